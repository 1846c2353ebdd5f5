// PgJDBC through dbward on a read grant: the metadata calls DBeaver and IDEs make, a prepared
// statement, a cursor read with fetchSize (resumed portals), a denied write. One summary line.
import java.sql.*;

public class PgJdbcSession {
    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://127.0.0.1:" + args[0] + "/orders?sslmode=disable";
        try (Connection c = DriverManager.getConnection(url, "alice", args[1])) {
            DatabaseMetaData md = c.getMetaData();
            int tables = 0, columns = 0, keys = 0, schemas = 0, types = 0;
            try (ResultSet rs = md.getTables(null, "public", "%", new String[] {"TABLE"})) { while (rs.next()) tables++; }
            try (ResultSet rs = md.getColumns(null, "public", "items", "%")) { while (rs.next()) columns++; }
            try (ResultSet rs = md.getPrimaryKeys(null, "public", "items")) { while (rs.next()) keys++; }
            try (ResultSet rs = md.getSchemas()) { while (rs.next()) schemas++; }
            try (ResultSet rs = md.getTypeInfo()) { while (rs.next()) types++; }
            try (ResultSet rs = md.getIndexInfo(null, "public", "items", false, false)) { while (rs.next()) {} }
            md.getDatabaseProductVersion();
            long sum = 0;
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement("SELECT id FROM items WHERE id > ? ORDER BY id")) {
                ps.setFetchSize(10);
                ps.setInt(1, 0);
                try (ResultSet rs = ps.executeQuery()) { while (rs.next()) sum += rs.getLong(1); }
            }
            c.commit();
            String denied = "not denied";
            try (Statement s = c.createStatement()) {
                s.executeUpdate("DELETE FROM items");
            } catch (SQLException e) {
                denied = "denied " + e.getSQLState();
            }
            c.rollback();
            System.out.println("tables=" + tables + " columns=" + columns + " keys=" + keys
                + " schemas>0=" + (schemas > 0) + " types>0=" + (types > 0) + " sum=" + sum + " " + denied);
        }
    }
}
