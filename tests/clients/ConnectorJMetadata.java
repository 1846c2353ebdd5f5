// What a JDBC GUI (DBeaver, DataGrip, SQuirreL) asks of a MariaDB Connector/J connection to
// draw its tree, through dbward under a `read` grant: catalogs, tables, columns, keys, indexes,
// foreign keys, routines, then a result set's metadata. Connector/J takes the schema to list
// from the database name it connected with, so that dbward database carries its schema's name.
// Arguments: dbward port, password, database name, and optionally more URL options
// (`&sessionVariables=sql_mode=ANSI_QUOTES`). Prints one summary line.
import java.sql.*;

public class ConnectorJMetadata {
    static int count(ResultSet rs) throws SQLException {
        int n = 0;
        while (rs.next()) n++;
        rs.close();
        return n;
    }

    public static void main(String[] args) throws Exception {
        String url = "jdbc:mariadb://127.0.0.1:" + args[0] + "/" + args[2] + "?user=alice&password=" + args[1]
            + "&useSsl=true&trustServerCertificate=true" + (args.length > 3 ? args[3] : "");
        try (Connection c = DriverManager.getConnection(url)) {
            DatabaseMetaData md = c.getMetaData();
            String schema = c.getCatalog();
            int catalogs = count(md.getCatalogs());
            int tables = count(md.getTables(schema, null, "%", new String[] {"TABLE", "VIEW"}));
            int columns = count(md.getColumns(schema, null, "items", "%"));
            int keys = count(md.getPrimaryKeys(schema, null, "items"));
            int indexes = count(md.getIndexInfo(schema, null, "items", false, true));
            int imported = count(md.getImportedKeys(schema, null, "notes"));
            int exported = count(md.getExportedKeys(schema, null, "items"));
            int procedures = count(md.getProcedures(schema, null, "%"));
            int functions = count(md.getFunctions(schema, null, "%"));
            count(md.getTypeInfo());
            count(md.getTableTypes());
            String product = md.getDatabaseProductName();
            String columnType;
            try (Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT * FROM items LIMIT 1")) {
                columnType = rs.getMetaData().getColumnTypeName(2);
            }
            System.out.println("catalogs>=" + (catalogs >= 1) + " tables=" + tables + " columns=" + columns
                + " keys=" + keys + " indexes=" + indexes + " imported=" + imported + " exported=" + exported
                + " procedures=" + procedures + " functions=" + functions + " type=" + columnType
                + " product=" + (product.isEmpty() ? "none" : "named"));
        }
    }
}
