// A MariaDB Connector/J session through dbward: TLS, caching_sha2_password, server-side
// prepared statements, batch, transaction, a denied statement. Prints one summary line.
// Usage: ConnectorJSession PORT PASSWORD [MORE_URL_OPTIONS]
import java.sql.*;

public class ConnectorJSession {
    public static void main(String[] args) throws Exception {
        String url = "jdbc:mariadb://127.0.0.1:" + args[0] + "/shop?user=alice&password=" + args[1]
            + "&useSsl=true&trustServerCertificate=true&useServerPrepStmts=true"
            + (args.length > 2 ? "&" + args[2] : "");
        try (Connection c = DriverManager.getConnection(url)) {
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO t (id, name) VALUES (?, ?)")) {
                for (int i = 0; i < 50; i++) {
                    ps.setInt(1, i);
                    ps.setString(2, "j" + i);
                    ps.addBatch();
                }
                ps.executeBatch();
            }
            c.commit();
            String denied = "not denied";
            try (Statement s = c.createStatement()) {
                s.execute("DROP TABLE t2");
            } catch (SQLException e) {
                denied = "denied " + e.getErrorCode();
            }
            c.rollback();
            long count;
            try (PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM t WHERE id >= ?")) {
                ps.setInt(1, 10);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    count = rs.getLong(1);
                }
            }
            System.out.println("count=" + count + " " + denied);
        }
    }
}
