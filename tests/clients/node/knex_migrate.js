// Knex through dbward: migrations from a directory (knex's lock table, taken with a row lock),
// the schema builder, a batch insert, a transaction rolled back, a rollback of the last
// migration batch.
const fs = require('fs');
const os = require('os');
const path = require('path');
const [engine, port, password, database] = process.argv.slice(2);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'knex-'));
fs.writeFileSync(path.join(dir, '20261207000001_accounts.js'), `
exports.up = (k) => k.schema.createTable('accounts', (t) => {
  t.increments('id');
  t.string('name', 50).notNullable().unique();
  t.decimal('balance', 10, 2).defaultTo(0);
  t.enu('kind', ['personal', 'business']).defaultTo('personal');
  t.timestamps(true, true);
});
exports.down = (k) => k.schema.dropTable('accounts');
`);
fs.writeFileSync(path.join(dir, '20261207000002_transfers.js'), `
exports.up = (k) => k.schema.createTable('transfers', (t) => {
  t.increments('id');
  t.integer('from_id').unsigned().references('accounts.id').onDelete('CASCADE');
  t.integer('to_id').unsigned().references('accounts.id');
  t.decimal('amount', 10, 2).notNullable();
  t.index(['from_id', 'to_id']);
});
exports.down = (k) => k.schema.dropTable('transfers');
`);

async function main() {
  const knex = require('knex')({
    client: engine === 'postgres' ? 'pg' : 'mysql2',
    connection: { host: '127.0.0.1', port: Number(port), user: 'alice', password, database,
      ssl: { rejectUnauthorized: false } },
    migrations: { directory: dir },
  });
  const out = [];
  const [batch, files] = await knex.migrate.latest();
  out.push(`migrated=${batch}:${files.length}`);
  await knex('accounts').insert([{ name: 'ann', balance: 100 }, { name: 'bob', kind: 'business' }]);
  try {
    await knex.transaction(async (trx) => {
      const [ann] = await trx('accounts').where({ name: 'ann' }).forUpdate().select('id');
      const [bob] = await trx('accounts').where({ name: 'bob' }).select('id');
      await trx('transfers').insert({ from_id: ann.id, to_id: bob.id, amount: 30 });
      await trx('accounts').where({ id: ann.id }).decrement('balance', 30);
      throw new Error('rolled back');
    });
  } catch (e) { /* rolled back */ }
  const [{ n }] = await knex('transfers').count({ n: '*' });
  const ann = await knex('accounts').where({ name: 'ann' }).first();
  out.push(`transfers=${n} balance=${Number(ann.balance)}`);
  const [rolled] = await knex.migrate.rollback();
  out.push(`rolled=${rolled} transfers_table=${await knex.schema.hasTable('transfers')}`);
  await knex.destroy();
  console.log(out.join(' '));
}
main().catch((e) => { console.error(e); process.exit(1); });
