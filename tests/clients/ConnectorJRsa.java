// MariaDB Connector/J without TLS through dbward: caching_sha2_password's full authentication
// with dbward's RSA key, which Connector/J asks for only with allowPublicKeyRetrieval=true, or
// reads from serverRsaPublicKeyFile. Prints one line per login.
// Usage: ConnectorJRsa PORT PASSWORD PUBLIC_KEY_PEM_FILE
import java.sql.*;

public class ConnectorJRsa {
    static String login(String port, String password, String options) {
        String url = "jdbc:mariadb://127.0.0.1:" + port + "/shop?user=alice&password=" + password + options;
        try (Connection c = DriverManager.getConnection(url);
             Statement s = c.createStatement();
             ResultSet r = s.executeQuery("SELECT 6 * 7")) {
            r.next();
            return "ok " + r.getInt(1);
        } catch (SQLException e) {
            return e.getMessage().contains("RSA public key is not available") ? "no key" : "error " + e.getMessage();
        }
    }

    public static void main(String[] args) {
        System.out.println("default: " + login(args[0], args[1], ""));
        System.out.println("asked: " + login(args[0], args[1], "&allowPublicKeyRetrieval=true"));
        System.out.println("given: " + login(args[0], args[1], "&serverRsaPublicKeyFile=" + args[2]));
    }
}
