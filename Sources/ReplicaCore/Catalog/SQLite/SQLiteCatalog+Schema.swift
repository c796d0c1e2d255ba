import Foundation
import GRDB

extension SQLiteCatalog {
    /// Version of the schema below; stored with `PRAGMA user_version` by the migrator.
    static let schemaVersion = 8

    /// The schema. Derived figures are kept by triggers, so every statement that changes a
    /// replica, a node's liveness or a file's N moves K, kn, node usage and the totals in the
    /// same transaction — no caller can forget one.
    ///
    /// - `files.kn` is a stored generated column (`k - n`), indexed with the scheduling order.
    /// - `replicas.kn` and `replicas.size` copy their file's values so that "the highest-kn
    ///   files on one node" is a range of the `replicas_by_node` index.
    /// - `replicas.node` is the node's integer key, not its UUID: three million replica rows
    ///   stay small.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE nodes (
                    seq INTEGER PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE,
                    address TEXT NOT NULL,
                    quota INTEGER NOT NULL,
                    used INTEGER NOT NULL DEFAULT 0,
                    load REAL NOT NULL DEFAULT 0,
                    last_report REAL NOT NULL,
                    alive INTEGER NOT NULL DEFAULT 1
                );

                CREATE TABLE files (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    path TEXT NOT NULL,
                    size INTEGER NOT NULL CHECK (size >= 0),
                    sha256 TEXT NOT NULL,
                    n INTEGER NOT NULL CHECK (n >= 1),
                    k INTEGER NOT NULL DEFAULT 0 CHECK (k >= 0),
                    kn INTEGER GENERATED ALWAYS AS (k - n) STORED,
                    version INTEGER NOT NULL,
                    created REAL NOT NULL,
                    deleted INTEGER NOT NULL DEFAULT 0
                );
                CREATE UNIQUE INDEX files_current_path ON files(path) WHERE deleted = 0;
                CREATE INDEX files_by_path_version ON files(path, version);
                CREATE INDEX files_schedule ON files(kn, k, size, id) WHERE deleted = 0;
                CREATE INDEX files_tombstones ON files(id) WHERE deleted = 1;

                -- state: 0 live, 1 copying, 2 evicting (deleted files' replicas are evicting)
                CREATE TABLE replicas (
                    file INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
                    node INTEGER NOT NULL REFERENCES nodes(seq) ON DELETE CASCADE,
                    state INTEGER NOT NULL CHECK (state IN (0, 1, 2)),
                    size INTEGER NOT NULL,
                    kn INTEGER NOT NULL,
                    PRIMARY KEY (file, node)
                ) WITHOUT ROWID;
                CREATE INDEX replicas_by_node ON replicas(node, state, kn, size, file);

                CREATE TABLE totals (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    files INTEGER NOT NULL,
                    bytes INTEGER NOT NULL,
                    under INTEGER NOT NULL
                );
                INSERT INTO totals VALUES (1, 0, 0, 0);

                -- K follows live replicas on alive nodes.
                CREATE TRIGGER replica_added AFTER INSERT ON replicas
                WHEN NEW.state = 0 AND (SELECT alive FROM nodes WHERE seq = NEW.node) = 1
                BEGIN
                    UPDATE files SET k = k + 1 WHERE id = NEW.file;
                END;
                CREATE TRIGGER replica_removed AFTER DELETE ON replicas
                WHEN OLD.state = 0 AND (SELECT alive FROM nodes WHERE seq = OLD.node) = 1
                BEGIN
                    UPDATE files SET k = k - 1 WHERE id = OLD.file;
                END;
                CREATE TRIGGER replica_state_changed AFTER UPDATE OF state ON replicas
                WHEN (OLD.state = 0) != (NEW.state = 0) AND (SELECT alive FROM nodes WHERE seq = NEW.node) = 1
                BEGIN
                    UPDATE files SET k = k + (CASE WHEN NEW.state = 0 THEN 1 ELSE -1 END) WHERE id = NEW.file;
                END;

                -- A node going down or up recomputes K of all its files in one statement
                -- (livenessRecountSQL, with NEW.seq for the node).
                CREATE TRIGGER node_liveness_changed AFTER UPDATE OF alive ON nodes
                WHEN OLD.alive != NEW.alive
                BEGIN
                    \(livenessRecountSQL.replacingOccurrences(of: "node = ?", with: "node = NEW.seq"));
                END;

                -- Replica rows carry their file's kn, for the per-node index.
                CREATE TRIGGER file_kn_changed AFTER UPDATE OF k, n ON files
                WHEN OLD.k - OLD.n != NEW.k - NEW.n
                BEGIN
                    UPDATE replicas SET kn = NEW.k - NEW.n WHERE file = NEW.id;
                END;

                -- Node usage follows the replicas recorded on it.
                CREATE TRIGGER node_used_added AFTER INSERT ON replicas
                BEGIN
                    UPDATE nodes SET used = used + NEW.size WHERE seq = NEW.node;
                END;
                CREATE TRIGGER node_used_removed AFTER DELETE ON replicas
                BEGIN
                    UPDATE nodes SET used = used - OLD.size WHERE seq = OLD.node;
                END;

                -- Totals over files not deleted.
                CREATE TRIGGER totals_file_added AFTER INSERT ON files WHEN NEW.deleted = 0
                BEGIN
                    UPDATE totals SET files = files + 1, bytes = bytes + NEW.size,
                        under = under + (NEW.k < NEW.n) WHERE id = 1;
                END;
                CREATE TRIGGER totals_file_changed AFTER UPDATE OF k, n, deleted ON files
                BEGIN
                    UPDATE totals SET
                        files = files - (OLD.deleted = 0) + (NEW.deleted = 0),
                        bytes = bytes - (CASE WHEN OLD.deleted = 0 THEN OLD.size ELSE 0 END)
                                      + (CASE WHEN NEW.deleted = 0 THEN NEW.size ELSE 0 END),
                        under = under - (OLD.deleted = 0 AND OLD.k < OLD.n) + (NEW.deleted = 0 AND NEW.k < NEW.n)
                    WHERE id = 1;
                END;
                CREATE TRIGGER totals_file_dropped AFTER DELETE ON files WHEN OLD.deleted = 0
                BEGIN
                    UPDATE totals SET files = files - 1, bytes = bytes - OLD.size,
                        under = under - (OLD.k < OLD.n) WHERE id = 1;
                END;
                """)
        }
        // v2: the swarm's identity, made once when the catalog is created (or first opened by
        // a build that knows it).
        migrator.registerMigration("v2") { db in
            try db.execute(sql: "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)")
            try db.execute(sql: "INSERT INTO meta (key, value) VALUES ('swarm', ?)", arguments: [SwarmID.make().rawValue])
            // The upload that stored each version: a node whose commit reply was lost asks again.
            try db.execute(sql: "ALTER TABLE files ADD COLUMN upload TEXT")
            try db.execute(sql: "CREATE UNIQUE INDEX files_by_upload ON files(upload) WHERE upload IS NOT NULL")
        }
        // v3: the master's event log, and the K − N histogram kept by triggers like the totals.
        migrator.registerMigration("v3") { db in
            try db.execute(sql: """
                -- AUTOINCREMENT: a number is never reused, even once the oldest events are trimmed.
                CREATE TABLE events (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    time REAL NOT NULL,
                    kind TEXT NOT NULL,
                    node TEXT,
                    address TEXT,
                    path TEXT,
                    message TEXT NOT NULL
                );

                -- Files not deleted per value of k - n. Rows whose count fell to 0 stay (a
                -- handful of values) and are left out by the query.
                CREATE TABLE kn_counts (
                    kn INTEGER PRIMARY KEY,
                    number INTEGER NOT NULL
                );
                INSERT INTO kn_counts (kn, number) SELECT kn, count(*) FROM files WHERE deleted = 0 GROUP BY kn;

                CREATE TRIGGER kn_counts_file_added AFTER INSERT ON files WHEN NEW.deleted = 0
                BEGIN
                    INSERT INTO kn_counts (kn, number) VALUES (NEW.k - NEW.n, 1)
                    ON CONFLICT(kn) DO UPDATE SET number = number + 1;
                END;
                CREATE TRIGGER kn_counts_file_changed AFTER UPDATE OF k, n, deleted ON files
                WHEN OLD.deleted != NEW.deleted OR (NEW.deleted = 0 AND OLD.k - OLD.n != NEW.k - NEW.n)
                BEGIN
                    UPDATE kn_counts SET number = number - 1 WHERE OLD.deleted = 0 AND kn = OLD.k - OLD.n;
                    INSERT INTO kn_counts (kn, number) SELECT NEW.k - NEW.n, 1 WHERE NEW.deleted = 0
                    ON CONFLICT(kn) DO UPDATE SET number = number + 1;
                END;
                CREATE TRIGGER kn_counts_file_dropped AFTER DELETE ON files WHEN OLD.deleted = 0
                BEGIN
                    UPDATE kn_counts SET number = number - 1 WHERE kn = OLD.k - OLD.n;
                END;
                """)
        }
        // v4: the operator's node states (`fsdfsd node drain`, `fsdfsd node maintenance`).
        // Two columns with defaults, nothing else: no trigger reads them (K does not change
        // when a node drains or enters maintenance), and older rows read as "neither".
        migrator.registerMigration("v4") { db in
            try db.execute(sql: "ALTER TABLE nodes ADD COLUMN draining INTEGER NOT NULL DEFAULT 0")
            try db.execute(sql: "ALTER TABLE nodes ADD COLUMN maintenance_until REAL")
        }
        // v5: what `status`, the metrics and the planner ask for at every call, kept by
        // triggers so that each costs the same at a million files as at a thousand: files and
        // bytes per (kn, K) (the K − N histogram, the backlog, the lost files, how many files
        // are not yet on every node), and each node's live replicas.
        migrator.registerMigration("v5") { db in
            try db.execute(sql: """
                CREATE TABLE replication_counts (
                    kn INTEGER NOT NULL,
                    k INTEGER NOT NULL,
                    files INTEGER NOT NULL,
                    bytes INTEGER NOT NULL,
                    PRIMARY KEY (kn, k)
                ) WITHOUT ROWID;
                INSERT INTO replication_counts (kn, k, files, bytes)
                    SELECT kn, k, count(*), sum(size) FROM files WHERE deleted = 0 GROUP BY kn, k;

                -- Rows whose count fell to 0 stay (a handful of values) and are left out by the
                -- queries. The UPSERTs read `WHERE true` so that SQLite parses ON CONFLICT as theirs.
                CREATE TRIGGER counts_file_added AFTER INSERT ON files WHEN NEW.deleted = 0
                BEGIN
                    INSERT INTO replication_counts (kn, k, files, bytes) SELECT NEW.k - NEW.n, NEW.k, 1, NEW.size WHERE true
                    ON CONFLICT(kn, k) DO UPDATE SET files = files + 1, bytes = bytes + excluded.bytes;
                END;
                CREATE TRIGGER counts_file_changed AFTER UPDATE OF k, n, deleted ON files
                WHEN OLD.deleted != NEW.deleted OR (NEW.deleted = 0 AND (OLD.k != NEW.k OR OLD.n != NEW.n))
                BEGIN
                    UPDATE replication_counts SET files = files - 1, bytes = bytes - OLD.size
                    WHERE OLD.deleted = 0 AND kn = OLD.k - OLD.n AND k = OLD.k;
                    INSERT INTO replication_counts (kn, k, files, bytes) SELECT NEW.k - NEW.n, NEW.k, 1, NEW.size WHERE NEW.deleted = 0
                    ON CONFLICT(kn, k) DO UPDATE SET files = files + 1, bytes = bytes + excluded.bytes;
                END;
                CREATE TRIGGER counts_file_dropped AFTER DELETE ON files WHEN OLD.deleted = 0
                BEGIN
                    UPDATE replication_counts SET files = files - 1, bytes = bytes - OLD.size
                    WHERE kn = OLD.k - OLD.n AND k = OLD.k;
                END;

                -- The histogram of v3 is read from the counts above now.
                DROP TRIGGER kn_counts_file_added;
                DROP TRIGGER kn_counts_file_changed;
                DROP TRIGGER kn_counts_file_dropped;
                DROP TABLE kn_counts;

                -- The smallest file, one end of an index: a planning pass with less room than
                -- that on every target, and no eviction possible, reads no file at all.
                CREATE INDEX files_by_size ON files(size) WHERE deleted = 0;

                -- Live replicas per node, whatever the node's liveness (as `status` shows them).
                ALTER TABLE nodes ADD COLUMN files INTEGER NOT NULL DEFAULT 0;
                UPDATE nodes SET files = (SELECT count(*) FROM replicas WHERE node = nodes.seq AND state = 0);
                CREATE TRIGGER node_files_added AFTER INSERT ON replicas WHEN NEW.state = 0
                BEGIN
                    UPDATE nodes SET files = files + 1 WHERE seq = NEW.node;
                END;
                CREATE TRIGGER node_files_removed AFTER DELETE ON replicas WHEN OLD.state = 0
                BEGIN
                    UPDATE nodes SET files = files - 1 WHERE seq = OLD.node;
                END;
                CREATE TRIGGER node_files_state_changed AFTER UPDATE OF state ON replicas
                WHEN (OLD.state = 0) != (NEW.state = 0)
                BEGIN
                    UPDATE nodes SET files = files + (CASE WHEN NEW.state = 0 THEN 1 ELSE -1 END) WHERE seq = NEW.node;
                END;
                """)
        }
        // v6: renames (`fsdfsd mv`). A renamed version keeps its replicas; each one its node
        // still holds under the old path says so until the node confirms the move. Nothing
        // reads the column in a trigger: K does not change when a file is renamed.
        migrator.registerMigration("v6") { db in
            try db.execute(sql: """
                ALTER TABLE replicas ADD COLUMN moved_from TEXT;
                CREATE INDEX replicas_moving ON replicas(node, moved_from) WHERE moved_from IS NOT NULL;
                """)
        }
        // v7: S3 access keys (`fsdfsd s3-key`), their secrets sealed with the swarm's key.
        migrator.registerMigration("v7") { db in
            try db.execute(sql: """
                CREATE TABLE s3_keys (
                    access_key TEXT PRIMARY KEY NOT NULL,
                    name TEXT,
                    secret BLOB NOT NULL,
                    created REAL NOT NULL
                );
                """)
        }
        // v8: the S3 API's buckets: top-level directories that exist while they hold no file.
        migrator.registerMigration("v8") { db in
            try db.execute(sql: "CREATE TABLE s3_buckets (name TEXT PRIMARY KEY NOT NULL, created REAL NOT NULL)")
        }
        // v9: the S3 metadata of a version (ETag, content type, user metadata), as JSON; a
        // version's row goes with it.
        migrator.registerMigration("v9") { db in
            try db.execute(sql: """
                CREATE TABLE s3_objects (file INTEGER PRIMARY KEY NOT NULL, meta TEXT NOT NULL);
                CREATE TRIGGER s3_objects_purged AFTER DELETE ON files BEGIN
                    DELETE FROM s3_objects WHERE file = OLD.id;
                END;
                """)
        }
        return migrator
    }
}
