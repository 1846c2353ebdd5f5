# Rails' ActiveRecord (6.1, Debian's) through dbward, as `rails db:migrate` and an application
# use it, on PostgreSQL (the pg gem, libpq underneath) or MySQL (the mysql2 gem, libmariadb):
# the adapter's connect-time settings and type-map queries, migrations from files under the
# migrator's advisory lock with its schema_migrations and ar_internal_metadata tables, a foreign
# key, then models: create, a query with a join, a transaction rolled back by an exception, an
# optimistic lock conflict, and a rollback of the last migration. Prints one summary line.
#
# Arguments: engine (postgres or mysql), port, password, database, and for MySQL the CA
# certificate that makes libmariadb use TLS and verify the server (mysql2's `ssl_mode` needs
# MySQL's own library).
require 'active_record'
require 'tmpdir'

engine, port, password, database, ca = ARGV
config = { host: '127.0.0.1', port: Integer(port), username: 'alice', password: password,
           database: database }
config = if engine == 'postgres'
           config.merge(adapter: 'postgresql', sslmode: 'require')
         else
           config.merge(adapter: 'mysql2', sslca: ca, sslverify: true)
         end
ActiveRecord::Base.establish_connection(config)
ActiveRecord::Migration.verbose = false

MIGRATIONS = {
  '20261207000001_create_customers.rb' => <<~RUBY,
    class CreateCustomers < ActiveRecord::Migration[6.1]
      def change
        create_table :customers do |t|
          t.string :name, null: false
          t.decimal :balance, precision: 10, scale: 2, default: 0
          t.integer :lock_version, default: 0, null: false
          t.timestamps
        end
        add_index :customers, :name, unique: true
      end
    end
  RUBY
  '20261207000002_create_orders.rb' => <<~RUBY,
    class CreateOrders < ActiveRecord::Migration[6.1]
      def change
        create_table :orders do |t|
          t.references :customer, null: false, foreign_key: true
          t.integer :quantity, null: false
          t.text :note
          t.timestamps
        end
      end
    end
  RUBY
  '20261207000003_add_status_to_orders.rb' => <<~RUBY
    class AddStatusToOrders < ActiveRecord::Migration[6.1]
      def change
        add_column :orders, :status, :string, default: 'new'
        add_index :orders, [:customer_id, :status]
      end
    end
  RUBY
}.freeze

class Customer < ActiveRecord::Base
  has_many :orders
end

class Order < ActiveRecord::Base
  belongs_to :customer
end

out = []
connection = ActiveRecord::Base.connection
if engine == 'postgres'
  out << "tls=#{connection.raw_connection.ssl_in_use?}"
else
  out << "tls=#{!connection.raw_connection.ssl_cipher.nil?}"
end
Dir.mktmpdir do |dir|
  MIGRATIONS.each { |name, code| File.write(File.join(dir, name), code) }
  context = ActiveRecord::MigrationContext.new(dir, ActiveRecord::SchemaMigration)
  context.migrate
  out << "version=#{context.current_version}"

  ann = Customer.create!(name: 'Ann', balance: 10.5)
  ann.orders.create!(quantity: 2, note: "it's \\ here")
  Customer.create!(name: 'Bob').orders.create!(quantity: 5)
  big = Customer.joins(:orders).where('orders.quantity > ?', 1).order(:name).distinct.pluck(:name)
  out << "joined=#{big.join(',')}"

  begin
    Customer.transaction do
      Customer.create!(name: 'Carl')
      raise ActiveRecord::Rollback
    end
  end
  out << "customers=#{Customer.count}"

  first = Customer.find(ann.id)
  second = Customer.find(ann.id)
  first.update!(balance: 20)
  begin
    second.update!(balance: 30)
    out << 'stale=no'
  rescue ActiveRecord::StaleObjectError
    out << 'stale=yes'
  end
  out << "note=#{Order.find_by(customer: ann).note == "it's \\ here"}"

  context.rollback(1)
  Order.reset_column_information
  out << "version=#{context.current_version} status=#{Order.column_names.include?('status')}"
end
puts out.join(' ')
