/* libmariadb's less common API calls through dbward over TLS, each answered in the client's
 * own protocol and none ending the session: COM_STMT_SEND_LONG_DATA, COM_STMT_RESET,
 * COM_SET_OPTION with multi-statements, COM_PING, COM_STATISTICS, COM_INIT_DB, COM_CHANGE_USER,
 * COM_RESET_CONNECTION, and the refused COM_REFRESH and COM_DEBUG. Prints one line per step.
 * Usage: libmariadb_api PORT PASSWORD */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static MYSQL *m;

static void die(const char *what, const char *error) {
    fprintf(stderr, "%s: %s\n", what, error);
    exit(1);
}

/* The first column of the first row of `sql`'s result. */
static void value(const char *label, const char *sql) {
    if (mysql_query(m, sql)) die(label, mysql_error(m));
    MYSQL_RES *res = mysql_store_result(m);
    if (!res) die(label, mysql_error(m));
    MYSQL_ROW row = mysql_fetch_row(res);
    printf("%s=%s\n", label, row && row[0] ? row[0] : "NULL");
    mysql_free_result(res);
}

int main(int argc, char **argv) {
    if (argc != 3) die("usage", "libmariadb_api PORT PASSWORD");
    m = mysql_init(NULL);
    my_bool verify = 0, enforce = 1;
    mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
    mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &enforce);
    if (!mysql_real_connect(m, "127.0.0.1", "alice", argv[2], "shop", atoi(argv[1]), NULL, 0))
        die("connect", mysql_error(m));

    /* A parameter sent in pieces (COM_STMT_SEND_LONG_DATA, no response), then reset. */
    MYSQL_STMT *st = mysql_stmt_init(m);
    const char *sql = "SELECT CONCAT(?, '!')";
    if (mysql_stmt_prepare(st, sql, strlen(sql))) die("prepare", mysql_stmt_error(st));
    MYSQL_BIND param;
    memset(&param, 0, sizeof param);
    param.buffer_type = MYSQL_TYPE_STRING;
    if (mysql_stmt_bind_param(st, &param)) die("bind", mysql_stmt_error(st));
    for (int round = 0; round < 2; round++) {
        if (mysql_stmt_send_long_data(st, 0, "long ", 5) ||
            mysql_stmt_send_long_data(st, 0, round ? "again" : "data", round ? 5 : 4))
            die("long data", mysql_stmt_error(st));
        if (mysql_stmt_execute(st)) die("execute", mysql_stmt_error(st));
        char out[64] = {0};
        unsigned long length = 0;
        MYSQL_BIND column;
        memset(&column, 0, sizeof column);
        column.buffer_type = MYSQL_TYPE_STRING;
        column.buffer = out;
        column.buffer_length = sizeof out - 1;
        column.length = &length;
        if (mysql_stmt_bind_result(st, &column) || mysql_stmt_fetch(st))
            die("fetch", mysql_stmt_error(st));
        printf("long_data=%s\n", out);
        mysql_stmt_free_result(st);
        if (mysql_stmt_reset(st)) die("reset", mysql_stmt_error(st));
    }
    mysql_stmt_close(st);

    /* Multi-statements switched on for this session only (COM_SET_OPTION). */
    if (mysql_set_server_option(m, MYSQL_OPTION_MULTI_STATEMENTS_ON))
        die("set option", mysql_error(m));
    if (mysql_query(m, "SELECT 1; SELECT 2")) die("multi", mysql_error(m));
    int results = 0;
    do {
        MYSQL_RES *res = mysql_store_result(m);
        if (res) {
            results++;
            mysql_free_result(res);
        }
    } while (mysql_next_result(m) == 0);
    printf("multi_results=%d\n", results);
    if (mysql_set_server_option(m, MYSQL_OPTION_MULTI_STATEMENTS_OFF))
        die("set option off", mysql_error(m));

    printf("ping=%d\n", mysql_ping(m));
    const char *stat = mysql_stat(m);
    printf("stat=%s\n", stat && strstr(stat, "Uptime:") ? "uptime" : "none");
    printf("select_db=%d\n", mysql_select_db(m, "shop"));

    /* Refused, and the session goes on. */
    int refused = mysql_refresh(m, REFRESH_TABLES);
    printf("refresh=%d errno=%u\n", refused, mysql_errno(m));
    refused = mysql_dump_debug_info(m);
    printf("debug=%d errno=%u\n", refused, mysql_errno(m));

    value("user_var_before", "SELECT @x := 5");
    if (mysql_reset_connection(m)) die("reset connection", mysql_error(m));
    value("user_var_after_reset", "SELECT @x");
    value("read_only_after_reset", "SELECT @@session.tx_read_only");
    if (mysql_change_user(m, "alice", argv[2], "shop")) die("change user", mysql_error(m));
    value("read_only_after_change_user", "SELECT @@session.tx_read_only");
    mysql_close(m);
    return 0;
}
