import ActyCore
@testable import ActyPostgres
import ActyStore
import Testing

@Suite struct PostgresSQLTextTests {
    @Test func placeholdersBecomeNumberedParametersOutsideLiteralsAndComments() {
        let translated = PostgresSQLText.translatingPlaceholders("""
            SELECT ?, '?', 'it''s ?', E'\\'?', "odd?name", x -- ?
            /* ? /* nested ? */ ? */ FROM t WHERE a = ? AND b = $$?$$
            """)
        #expect(translated.sql == """
            SELECT $1, '?', 'it''s ?', E'\\'?', "odd?name", x -- ?
            /* ? /* nested ? */ ? */ FROM t WHERE a = $2 AND b = $$?$$
            """)
        #expect(translated.parameterCount == 2)
    }

    @Test func numberedPlaceholdersFollowSQLiteRule() {
        let reused = PostgresSQLText.translatingPlaceholders(
            "INSERT INTO admission_state (id, pending) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET pending = pending + ?1")
        #expect(reused.sql == "INSERT INTO admission_state (id, pending) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET pending = pending + $1")
        #expect(reused.parameterCount == 1)
        let mixed = PostgresSQLText.translatingPlaceholders("SELECT ?, ?3, ?")
        #expect(mixed.sql == "SELECT $1, $3, $4")
        #expect(mixed.parameterCount == 4)
        #expect(PostgresSQLText.translatingPlaceholders("SELECT 1").parameterCount == 0)
    }

    @Test func scriptsSplitAtSemicolonsOutsideLiteralsAndComments() {
        let statements = PostgresSQLText.statements(in: """
            -- a comment; not a statement
            CREATE TABLE a (x TEXT DEFAULT ';');
            /* also; not */ INSERT INTO a VALUES ('x;y');

            CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql
            """)
        #expect(statements.count == 3)
        #expect(statements[0].hasSuffix("CREATE TABLE a (x TEXT DEFAULT ';')"))
        #expect(statements[1].hasSuffix("INSERT INTO a VALUES ('x;y')"))
        #expect(statements[2].contains("$body$ SELECT 1; $body$"))
        #expect(PostgresSQLText.statements(in: "-- only a comment\n/* and; another */\n").isEmpty)
    }

    @Test func everyEmbeddedMigrationSplitsIntoStatements() {
        #expect(Migration.all.map(\.version) == Array(1...12))
        for migration in Migration.all where migration.version != 2 {
            #expect(!PostgresSQLText.statements(in: migration.sql).isEmpty, "\(migration.name)")
        }
    }
}

@Suite struct PostgresURLTests {
    @Test func parsesFullAndDefaultedURLs() throws {
        let full = try PostgresURL("postgres://acty:p%40ss@db.example:6543/jobs?sslmode=disable")
        #expect(full == PostgresURL(host: "db.example", port: 6543, user: "acty", password: "p@ss", database: "jobs"))
        #expect(full.description == "postgres://acty@db.example:6543/jobs")
        let defaulted = try PostgresURL("postgresql://me@127.0.0.1")
        #expect(defaulted == PostgresURL(host: "127.0.0.1", port: 5432, user: "me", password: nil, database: "me"))
    }

    @Test(arguments: [
        ("mysql://u:secret@h/db", "scheme is mysql"),
        ("/var/acty.db", "not a PostgreSQL URL"),
        ("postgres://h/db", "names no user"),
        ("postgres://u:secret@/db", "names no host"),
        ("postgres://u:secret@h/db?sslmode=require", "sslmode=require is not supported"),
        ("postgres://u:secret@h/db?application_name=x", "application_name is not supported"),
        ("postgres://u:secret@h/a/b", "one database name"),
    ])
    func rejectsOtherURLsSayingWhy(url: String, reason: String) {
        #expect {
            try PostgresURL(url)
        } throws: { error in
            let error = error as? ActyError
            return error?.code == .invalidArgument && error?.message.contains(reason) == true && error?.message.contains("secret") == false
        }
    }
}

@Suite struct PostgresRowColumnsTests {
    @Test func valuesConvertAsSQLiteConvertsThem() {
        let row = PostgresRowColumns(values: [.null, .integer(42), .real(-2.75), .text("17"), .text("2.5"), .text("abc"), .real(1e300)])
        #expect(row.isNull(0) && !row.isNull(1))
        #expect(row.int64(0) == 0 && row.double(0) == 0 && row.string(0) == "")
        #expect(row.int64(1) == 42 && row.double(1) == 42 && row.string(1) == "42")
        #expect(row.int64(2) == -2 && row.double(2) == -2.75 && row.string(2) == "-2.75")
        #expect(row.int64(3) == 17 && row.double(3) == 17 && row.string(3) == "17")
        #expect(row.int64(4) == 2 && row.double(4) == 2.5)
        #expect(row.int64(5) == 0 && row.double(5) == 0)
        #expect(row.int64(6) == .max)
        #expect(row.optionalInt(0) == nil && row.optionalString(3) == "17")
    }
}
