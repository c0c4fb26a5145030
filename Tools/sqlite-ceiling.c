/*
 * sqlite-ceiling: the fan-out workload's row writes done by plain SQL from one thread, with no scheduler,
 * no async runtime and no Swift: the ceiling the engine can approach on this machine.
 *
 * It applies the schema (migrations/*.sql, concatenated) to a new file and runs the same statements the engine's writer runs
 * for G groups of 1 primer + F followers: group and job inserts with their events, claims by lane in batches
 * (select, then lease by id), completions with attempt rows and events, follower release and group completion.
 *
 * Two modes:
 *   batched    up to 16 groups' submissions per transaction, as concurrent submitters arrive (the fan-out ceiling).
 *   per-group  one group submitted per transaction, as a sequential `for … { try await engine.submitGroup(…) }`
 *              loop needs (each call returns after its commit); the completions and claims pending at that point
 *              ride in the same transaction, as the engine's group commit batches them (the sequential-loop ceiling).
 *
 * Build and run (Tools/ceiling.sh does both):
 *   cc -O2 -o /tmp/sqlite-ceiling Tools/sqlite-ceiling.c -lsqlite3
 *   cat migrations/*.sql > /tmp/schema.sql
 *   /tmp/sqlite-ceiling /tmp/schema.sql /tmp/ceiling.db [groups] [followers] [claim batch] [synchronous] [mode]
 * Prints one JSON line.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static sqlite3 *db;

static void check(int rc, const char *what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}

static sqlite3_stmt *prepare(const char *sql) {
    sqlite3_stmt *statement;
    check(sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, NULL), sql);
    return statement;
}

static void run(sqlite3_stmt *statement) {
    int rc;
    while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {}
    check(rc, sqlite3_sql(statement));
    sqlite3_reset(statement);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static sqlite3_stmt *insert_event;

static void event(const char *type, sqlite3_int64 group, sqlite3_int64 job, const char *data) {
    sqlite3_bind_double(insert_event, 1, now());
    sqlite3_bind_text(insert_event, 2, type, -1, SQLITE_STATIC);
    sqlite3_bind_int64(insert_event, 3, group);
    if (job) sqlite3_bind_int64(insert_event, 4, job); else sqlite3_bind_null(insert_event, 4);
    sqlite3_bind_text(insert_event, 5, "default", -1, SQLITE_STATIC);
    sqlite3_bind_text(insert_event, 6, "w1-ceiling", -1, SQLITE_STATIC);
    if (data) sqlite3_bind_text(insert_event, 7, data, -1, SQLITE_STATIC); else sqlite3_bind_null(insert_event, 7);
    run(insert_event);
}

typedef struct { sqlite3_int64 id, group; int primer, attempt; double started; } Claimed;

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: sqlite-ceiling <schema.sql> <db> [groups=2000] [followers=9] [batch=40] [synchronous=NORMAL]"
                        " [mode=batched|per-group]\n");
        return 64;
    }
    int groups = argc > 3 ? atoi(argv[3]) : 2000, followers = argc > 4 ? atoi(argv[4]) : 9;
    int batch = argc > 5 ? atoi(argv[5]) : 40;
    const char *synchronous = argc > 6 ? argv[6] : "NORMAL";
    const char *mode = argc > 7 ? argv[7] : "batched";
    int perGroup = strcmp(mode, "per-group") == 0;
    if (!perGroup && strcmp(mode, "batched") != 0) {
        fprintf(stderr, "mode must be 'batched' or 'per-group', not '%s'\n", mode);
        return 64;
    }
    unlink(argv[2]);
    char path[4096];
    snprintf(path, sizeof path, "%s-wal", argv[2]); unlink(path);
    snprintf(path, sizeof path, "%s-shm", argv[2]); unlink(path);

    FILE *file = fopen(argv[1], "r");
    if (!file) { perror(argv[1]); return 66; }
    static char schema[1 << 16];
    schema[fread(schema, 1, sizeof schema - 1, file)] = 0;
    fclose(file);

    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    check(sqlite3_open(argv[2], &db), "open");
    char pragmas[256];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA cache_size=-8192;"
             "PRAGMA wal_autocheckpoint=8000;", synchronous);
    check(sqlite3_exec(db, pragmas, NULL, NULL, NULL), "pragmas");
    /* Like the engine's migrator: the schema with foreign keys off (migrations rebuild tables), then on. */
    check(sqlite3_exec(db, schema, NULL, NULL, NULL), "schema");
    check(sqlite3_exec(db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL), "foreign keys");
    check(sqlite3_exec(db, "INSERT INTO lanes (name, weight, created_at, updated_at) VALUES ('default', 1, 0, 0)", NULL, NULL, NULL), "lane");

    insert_event = prepare("INSERT INTO events (at, type, group_id, job_id, lane, worker, data) VALUES (?, ?, ?, ?, ?, ?, ?)");
    sqlite3_stmt *insert_group = prepare(
        "INSERT INTO groups (key, lane, state, primer_state, primer_policy, follower_policy, followers_total, jobs_total, "
        "jobs_finished, created_at, closed_at) VALUES (?, 'default', 'closed', 'pending', 'fail_group', 'fail_group', ?, ?, 0, ?, ?)");
    sqlite3_stmt *insert_job = prepare(
        "INSERT INTO jobs (group_id, role, follower_index, executor, lane, state, priority, payload, max_attempts, created_at) "
        "VALUES (?, ?, ?, 'noop', 'default', ?, 0, ?, 1, ?)");
    sqlite3_stmt *select_ready = prepare(
        "SELECT id, group_id, attempts FROM jobs WHERE state = 'ready' AND role = ? AND lane = 'default' AND executor IN ('noop') "
        "ORDER BY priority DESC, id LIMIT ?");
    sqlite3_stmt *lease = prepare(
        "UPDATE jobs SET state = 'running', attempts = ?, lease_owner = 'w1-ceiling', lease_until = ?, started_at = ? WHERE id = ?");
    sqlite3_stmt *succeed = prepare(
        "UPDATE jobs SET state = 'succeeded', result = 'null', finished_at = ?, lease_owner = NULL, lease_until = NULL "
        "WHERE id = ? AND state = 'running' AND lease_owner = 'w1-ceiling' AND attempts = ?");
    sqlite3_stmt *insert_attempt = prepare(
        "INSERT INTO attempts (job_id, number, worker, pool, started_at, finished_at, outcome, duration) "
        "VALUES (?, ?, 'w1-ceiling', ?, ?, ?, 'succeeded', ?)");
    sqlite3_stmt *primer_done = prepare("UPDATE groups SET primer_state = 'succeeded' WHERE id = ?");
    sqlite3_stmt *release = prepare("UPDATE jobs SET state = 'ready' WHERE group_id = ? AND state = 'blocked'");
    sqlite3_stmt *count_finished = prepare("UPDATE groups SET jobs_finished = jobs_finished + 1 WHERE id = ?");
    sqlite3_stmt *group_row = prepare("SELECT jobs_total, jobs_finished FROM groups WHERE id = ?");
    sqlite3_stmt *finish_group = prepare("UPDATE groups SET state = 'succeeded', finished_at = ? WHERE id = ?");

    double start = now();
    int submitted = 0, done = 0, total = groups * (1 + followers), transactions = 0;
    Claimed *claimed = calloc(batch, sizeof *claimed);
    int claimedCount = 0;
    while (done < total) {
        check(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), "begin");
        transactions++;
        /* Submissions arrive alongside the work: a few groups per transaction, as concurrent submitters do, or
         * exactly one per transaction, as a sequential loop does (its next call waits for this commit). */
        for (int k = 0; k < (perGroup ? 1 : 16) && submitted < groups && (perGroup || submitted * (1 + followers) - done < 4 * batch);
             k++, submitted++) {
            char key[32];
            snprintf(key, sizeof key, "group-%d", submitted);
            double t = now();
            sqlite3_bind_text(insert_group, 1, key, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int(insert_group, 2, followers);
            sqlite3_bind_int(insert_group, 3, followers + 1);
            sqlite3_bind_double(insert_group, 4, t);
            sqlite3_bind_double(insert_group, 5, t);
            run(insert_group);
            sqlite3_int64 group = sqlite3_last_insert_rowid(db);
            event("group_activated", group, 0, NULL);
            for (int j = 0; j <= followers; j++) {
                sqlite3_bind_int64(insert_job, 1, group);
                sqlite3_bind_text(insert_job, 2, j == 0 ? "primer" : "follower", -1, SQLITE_STATIC);
                if (j == 0) sqlite3_bind_null(insert_job, 3); else sqlite3_bind_int(insert_job, 3, j - 1);
                sqlite3_bind_text(insert_job, 4, j == 0 ? "ready" : "blocked", -1, SQLITE_STATIC);
                sqlite3_bind_text(insert_job, 5, "{\"agent\":\"specialist\"}", -1, SQLITE_STATIC);
                sqlite3_bind_double(insert_job, 6, t);
                run(insert_job);
                event("job_queued", group, sqlite3_last_insert_rowid(db), j == 0 ? NULL : "{\"blocked\":true}");
            }
        }
        /* Complete what the previous transaction claimed. */
        for (int i = 0; i < claimedCount; i++) {
            Claimed *c = &claimed[i];
            double t = now();
            sqlite3_bind_double(succeed, 1, t);
            sqlite3_bind_int64(succeed, 2, c->id);
            sqlite3_bind_int(succeed, 3, c->attempt);
            run(succeed);
            sqlite3_bind_int64(insert_attempt, 1, c->id);
            sqlite3_bind_int(insert_attempt, 2, c->attempt);
            sqlite3_bind_text(insert_attempt, 3, c->primer ? "primer" : "follower", -1, SQLITE_STATIC);
            sqlite3_bind_double(insert_attempt, 4, c->started);
            sqlite3_bind_double(insert_attempt, 5, t);
            sqlite3_bind_double(insert_attempt, 6, t - c->started);
            run(insert_attempt);
            event("job_succeeded", c->group, c->id, "{\"attempt\":1}");
            if (c->primer) {
                sqlite3_bind_int64(primer_done, 1, c->group);
                run(primer_done);
                sqlite3_bind_int64(release, 1, c->group);
                run(release);
                event("followers_ready", c->group, 0, NULL);
            }
            sqlite3_bind_int64(count_finished, 1, c->group);
            run(count_finished);
            sqlite3_bind_int64(group_row, 1, c->group);
            if (sqlite3_step(group_row) == SQLITE_ROW && sqlite3_column_int(group_row, 0) == sqlite3_column_int(group_row, 1)) {
                sqlite3_reset(group_row);
                sqlite3_bind_double(finish_group, 1, t);
                sqlite3_bind_int64(finish_group, 2, c->group);
                run(finish_group);
                event("group_done", c->group, 0, "{\"ok\":true}");
            }
            sqlite3_reset(group_row);
            done++;
        }
        /* Claim the next batch: primers first, then followers. */
        claimedCount = 0;
        for (int role = 0; role < 2 && claimedCount < batch; role++) {
            sqlite3_bind_text(select_ready, 1, role == 0 ? "primer" : "follower", -1, SQLITE_STATIC);
            sqlite3_bind_int(select_ready, 2, batch - claimedCount);
            int first = claimedCount;
            while (sqlite3_step(select_ready) == SQLITE_ROW) {
                Claimed *c = &claimed[claimedCount++];
                c->id = sqlite3_column_int64(select_ready, 0);
                c->group = sqlite3_column_int64(select_ready, 1);
                c->attempt = sqlite3_column_int(select_ready, 2) + 1;
                c->primer = role == 0;
            }
            sqlite3_reset(select_ready);
            double t = now();
            for (int i = first; i < claimedCount; i++) {
                Claimed *c = &claimed[i];
                c->started = t;
                sqlite3_bind_int(lease, 1, c->attempt);
                sqlite3_bind_double(lease, 2, t + 30);
                sqlite3_bind_double(lease, 3, t);
                sqlite3_bind_int64(lease, 4, c->id);
                run(lease);
                event("job_started", c->group, c->id, "{\"attempt\":1,\"pool\":\"follower\"}");
            }
        }
        check(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit");
    }
    double seconds = now() - start;
    printf("{\"workload\":\"sqlite_ceiling\",\"mode\":\"%s\",\"groups\":%d,\"followers\":%d,\"jobs\":%d,\"claim_batch\":%d,"
           "\"synchronous\":\"%s\",\"transactions\":%d,\"seconds\":%.3f,\"jobs_per_second\":%.0f}\n",
           mode, groups, followers, total, batch, synchronous, transactions, seconds, total / seconds);
    sqlite3_close(db);
    return 0;
}
