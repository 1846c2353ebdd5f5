// TypeORM through dbward: synchronize (its catalog reads, then CREATE TABLE, enums, indexes,
// foreign keys), a repository, a query builder join, a transaction rolled back, a migration
// run (its migrations table), then the schema diff again: nothing left to change but the
// migration's column, which no entity names. On PostgreSQL TypeORM first tries `CREATE
// EXTENSION pgcrypto` for its uuid column: refused (admin), it warns and goes on with
// gen_random_uuid(), built into PostgreSQL 13 and later.
const { DataSource, EntitySchema } = require('typeorm');
const [engine, port, password, database] = process.argv.slice(2);

const User = new EntitySchema({
  name: 'User', tableName: 'users',
  columns: {
    id: { type: Number, primary: true, generated: true },
    email: { type: String, unique: true, length: 100 },
    role: { type: 'enum', enum: ['admin', 'member'], default: 'member' },
    profile: { type: engine === 'postgres' ? 'jsonb' : 'json', nullable: true },
    createdAt: { type: engine === 'postgres' ? 'timestamptz' : 'datetime', createDate: true },
    version: { type: Number, version: true },
  },
  relations: { posts: { type: 'one-to-many', target: 'Post', inverseSide: 'author' } },
});
const Post = new EntitySchema({
  name: 'Post', tableName: 'posts',
  columns: {
    id: { type: 'uuid', primary: true, generated: 'uuid' },
    title: { type: String },
    score: { type: 'decimal', precision: 6, scale: 2, default: 0 },
  },
  indices: [{ name: 'posts_title', columns: ['title'] }],
  relations: { author: { type: 'many-to-one', target: 'User', inverseSide: 'posts', onDelete: 'CASCADE' } },
});

class AddNote1700000000000 {
  async up(q) { await q.query('ALTER TABLE posts ADD note varchar(50) NULL'); }
  async down(q) { await q.query('ALTER TABLE posts DROP COLUMN note'); }
}

async function main() {
  const ds = new DataSource({
    type: engine === 'postgres' ? 'postgres' : 'mariadb',
    host: '127.0.0.1', port: Number(port), username: 'alice', password, database,
    ssl: { rejectUnauthorized: false }, uuidExtension: 'pgcrypto',
    entities: [User, Post], migrations: [AddNote1700000000000], synchronize: true, logging: false,
  });
  await ds.initialize();
  const out = [];
  const users = ds.getRepository('User');
  const ann = await users.save({ email: 'ann@example.com', role: 'admin', profile: { tz: 'UTC' } });
  await ds.getRepository('Post').save([{ title: 'hello', score: 4.5, author: ann }, { title: 'world', author: ann }]);
  const rows = await ds.getRepository('Post').createQueryBuilder('p')
    .innerJoinAndSelect('p.author', 'a').where('a.role = :role', { role: 'admin' })
    .orderBy('p.title').getMany();
  out.push(`posts=${rows.map((p) => p.title).join(',')}:${rows[0].author.profile.tz}`);
  try {
    await ds.transaction(async (m) => {
      await m.getRepository('User').save({ email: 'bob@example.com' });
      throw new Error('rollback');
    });
  } catch (e) { /* rolled back */ }
  out.push(`users=${await users.count()}`);
  const ran = await ds.runMigrations();
  out.push(`migrations=${ran.length}`);
  const pending = await ds.driver.createSchemaBuilder().log();
  out.push(`pending=${pending.upQueries.filter((q) => !/note/.test(q.query)).length}`);
  await ds.destroy();
  console.log(out.join(' '));
}
main().catch((e) => { console.error(e); process.exit(1); });
