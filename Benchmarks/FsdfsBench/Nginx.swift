import Foundation

/// The peer web server: Debian's nginx on a free loopback port, serving `root` and storing
/// PUT bodies there with the WebDAV module (`dav_methods PUT`: the body is written to a
/// temporary file in `body/`, on the same file system, and renamed into place; nginx does
/// not fsync, so the peer pipelines `sync` the stored file themselves).
final class Nginx: Sendable {
    let directory: URL
    let root: URL
    let port: Int
    private let server: ServerProcess

    var url: String { "http://127.0.0.1:\(port)" }

    /// Writes the configuration and starts nginx in the foreground (`daemon off`), waiting
    /// until it answers.
    static func start(context: BenchContext) async throws -> Nginx {
        guard let binary = Shell.which("nginx") else {
            throw BenchError("nginx is not installed: scripts/bench.sh installs it (apt-get install nginx-light)")
        }
        let directory = context.work.appendingPathComponent("nginx")
        let nginx = Nginx(directory: directory, port: try freePort(), binary: binary)
        try nginx.writeConfiguration()
        try nginx.server.start()
        try await poll("nginx answering on \(nginx.url)", timeout: .seconds(20)) {
            guard nginx.server.isRunning else { throw BenchError("nginx exited: \(nginx.server.logTail())") }
            let result = try await Shell.run(
                "/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", nginx.url + "/"], scratch: context.work)
            return result.succeeded
        }
        return nginx
    }

    private init(directory: URL, port: Int, binary: String) {
        self.directory = directory
        root = directory.appendingPathComponent("root")
        self.port = port
        let configuration = directory.appendingPathComponent("nginx.conf")
        server = ServerProcess(
            name: "nginx", executable: binary,
            arguments: ["-c", configuration.path, "-p", directory.path, "-e", directory.appendingPathComponent("error.log").path],
            environment: ProcessInfo.processInfo.environment, log: directory.appendingPathComponent("nginx.out"),
            // SIGTERM: the master stops its workers before it exits.
            reapSignal: SIGTERM)
    }

    private func writeConfiguration() throws {
        for folder in ["root", "body", "tmp"] {
            try FileManager.default.createDirectory(at: directory.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        let path = directory.path
        // Run as root, nginx would hand its workers to `nobody`, who cannot write our root.
        let user = geteuid() == 0 ? "user root;\n" : ""
        let text = """
            \(user)worker_processes 2;
            daemon off;
            pid \(path)/nginx.pid;
            events { worker_connections 1024; }
            http {
                access_log off;
                sendfile on;
                tcp_nopush on;
                keepalive_requests 100000;
                default_type application/octet-stream;
                client_max_body_size 0;
                client_body_temp_path \(path)/body;
                proxy_temp_path \(path)/tmp;
                fastcgi_temp_path \(path)/tmp;
                uwsgi_temp_path \(path)/tmp;
                scgi_temp_path \(path)/tmp;
                server {
                    listen 127.0.0.1:\(port);
                    root \(root.path);
                    location / {
                        dav_methods PUT;
                        create_full_put_path on;
                        dav_access user:rw group:r all:r;
                    }
                }
            }

            """
        try text.write(to: directory.appendingPathComponent("nginx.conf"), atomically: true, encoding: .utf8)
    }

    func stop() async {
        await server.stop()
    }
}
