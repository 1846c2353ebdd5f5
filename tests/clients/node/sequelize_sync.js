// Sequelize (the ORM) through dbward under a `ddl` grant: `sync({ force })` and
// `sync({ alter })` of two models (an ENUM, which on PostgreSQL Sequelize creates in a `DO`
// block, JSON, a UUID default, a decimal, an index, a foreign key), then rows written in a
// transaction and read back with a join. Arguments: postgres|mysql, dbward port, password,
// dbward database name. Prints one summary line.
const { Sequelize, DataTypes } = require('sequelize');
const [dialect, port, password, database] = process.argv.slice(2);
const s = new Sequelize(database, 'alice', password, {
  host: '127.0.0.1', port: Number(port), dialect, logging: false,
  dialectOptions: dialect === 'mysql' ? { ssl: { rejectUnauthorized: false } } : {},
});

(async () => {
  const User = s.define('User', {
    name: { type: DataTypes.STRING, allowNull: false, unique: true },
    role: DataTypes.ENUM('admin', 'user'),
    meta: DataTypes.JSON,
    score: { type: DataTypes.DECIMAL(10, 2), defaultValue: 0 },
    uuid: { type: DataTypes.UUID, defaultValue: DataTypes.UUIDV4 },
  }, { indexes: [{ fields: ['score'] }] });
  const Post = s.define('Post', { title: DataTypes.STRING });
  User.hasMany(Post);
  Post.belongsTo(User);
  await s.sync({ force: true });
  await s.sync({ alter: true });
  await s.transaction(async (transaction) => {
    const u = await User.create({ name: 'ada', role: 'admin', meta: { k: 1 } }, { transaction });
    await Post.create({ title: 'hello', UserId: u.id }, { transaction });
    await User.update({ score: 5 }, { where: { id: u.id }, transaction });
  });
  const users = await User.findAll({ include: Post });
  const u = users[0];
  console.log(`users=${users.length} role=${u.role} score=${u.score} posts=${u.Posts.map((p) => p.title)}`);
  await s.close();
})().catch((e) => { console.error(e.message); process.exit(1); });
