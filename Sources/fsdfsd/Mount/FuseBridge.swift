import CFuse
import Foundation
import Synchronization

/// The C boundary of `fsdfsd mount`: libfuse's callbacks, on libfuse's threads, turned into
/// calls of ``MountFileSystem`` with Swift values, and their answers into what libfuse
/// expects (0 or −errno, `struct stat`, copied bytes). The only file of the mount that
/// touches C pointers.
enum FuseBridge {
    /// The file system of the callbacks, set by `fuse_new` as libfuse's private data.
    private static func fileSystem() -> MountFileSystem {
        Unmanaged<MountFileSystem>.fromOpaque(fuse_get_context()!.pointee.private_data).takeUnretainedValue()
    }

    /// Runs one operation; an error becomes −errno.
    fileprivate static func perform(_ body: (MountFileSystem) throws -> Int32) -> Int32 {
        do {
            return try body(fileSystem())
        } catch let error as FuseError {
            // What the application sees is an errno; why the store refused goes to stderr.
            if [EIO, ENOSPC, EBUSY].contains(error.errno), !error.why.isEmpty {
                FileHandle.standardError.write(Data("mount: \(error.why)\n".utf8))
            }
            return -error.errno
        } catch {
            return -EIO
        }
    }

    fileprivate static func path(_ pointer: UnsafePointer<CChar>?) -> String {
        pointer.map { String(cString: $0) } ?? "/"
    }

    fileprivate static func fill(_ stat: UnsafeMutablePointer<stat>, _ attributes: MountAttributes) {
        var value = Glibc.stat()
        value.st_mode = attributes.directory ? (S_IFDIR | 0o755) : (S_IFREG | 0o644)
        value.st_nlink = attributes.directory ? 2 : 1
        value.st_size = off_t(attributes.size)
        value.st_blocks = blkcnt_t((attributes.size + 511) / 512)
        value.st_blksize = 4096
        value.st_uid = getuid()
        value.st_gid = getgid()
        let seconds = Int(attributes.modified)
        let time = timespec(tv_sec: seconds, tv_nsec: Int((attributes.modified - Double(seconds)) * 1e9))
        value.st_mtim = time
        value.st_ctim = time
        value.st_atim = time
        stat.pointee = value
    }

    /// The operations fsdfs answers; the rest are left to libfuse (ENOSYS).
    static func operations() -> fuse_operations {
        var operations = fuse_operations()
        operations.`init` = { _, config in
            if let config {
                // Metadata is kept a second by the kernel, as by the mount; a missing name is
                // asked again each time (another client may have stored it).
                config.pointee.entry_timeout = 1
                config.pointee.attr_timeout = 1
                config.pointee.negative_timeout = 0
                // An unlinked file stays readable through its open handles (its cache file).
                config.pointee.hard_remove = 1
            }
            return fuse_get_context()!.pointee.private_data
        }
        operations.getattr = { path, stat, _ in
            FuseBridge.perform { fs in
                FuseBridge.fill(stat!, try fs.attributes(FuseBridge.path(path)))
                return 0
            }
        }
        operations.readdir = { path, buffer, filler, _, _, _ in
            FuseBridge.perform { fs in
                let entries = try fs.list(FuseBridge.path(path))
                for name in [".", ".."] { _ = filler?(buffer, name, nil, 0, fuse_fill_dir_flags(rawValue: 0)) }
                for entry in entries {
                    var value = Glibc.stat()
                    FuseBridge.fill(&value, entry.attributes)
                    if filler?(buffer, entry.name, &value, 0, fuse_fill_dir_flags(rawValue: 0)) != 0 { break }
                }
                return 0
            }
        }
        operations.open = { path, info in
            FuseBridge.perform { fs in
                let flags = info!.pointee.flags
                let mode = flags & O_ACCMODE
                info!.pointee.fh = try fs.open(
                    FuseBridge.path(path), write: mode != O_RDONLY, truncate: flags & O_TRUNC != 0, append: flags & O_APPEND != 0)
                return 0
            }
        }
        operations.create = { path, _, info in
            FuseBridge.perform { fs in
                info!.pointee.fh = try fs.create(FuseBridge.path(path))
                return 0
            }
        }
        operations.read = { _, buffer, size, offset, info in
            FuseBridge.perform { fs in
                let data = try fs.read(info!.pointee.fh, offset: Int64(offset), count: size)
                data.withUnsafeBytes { bytes in
                    if let base = bytes.baseAddress { buffer!.update(from: base.assumingMemoryBound(to: CChar.self), count: bytes.count) }
                }
                return Int32(data.count)
            }
        }
        operations.write = { _, buffer, size, offset, info in
            FuseBridge.perform { fs in
                let data = Data(bytes: buffer!, count: size)
                return Int32(try fs.write(info!.pointee.fh, offset: Int64(offset), data: data))
            }
        }
        operations.flush = { _, info in
            FuseBridge.perform { fs in
                try fs.flush(info!.pointee.fh)
                return 0
            }
        }
        operations.fsync = { _, _, info in
            FuseBridge.perform { fs in
                try fs.flush(info!.pointee.fh)
                return 0
            }
        }
        operations.release = { _, info in
            FuseBridge.perform { fs in
                fs.release(info!.pointee.fh)
                return 0
            }
        }
        operations.truncate = { path, size, info in
            FuseBridge.perform { fs in
                try fs.truncate(FuseBridge.path(path), size: Int64(size), handle: info.map { $0.pointee.fh })
                return 0
            }
        }
        operations.unlink = { path in
            FuseBridge.perform { fs in
                try fs.unlink(FuseBridge.path(path))
                return 0
            }
        }
        operations.mkdir = { path, _ in
            FuseBridge.perform { fs in
                try fs.mkdir(FuseBridge.path(path))
                return 0
            }
        }
        operations.rmdir = { path in
            FuseBridge.perform { fs in
                try fs.rmdir(FuseBridge.path(path))
                return 0
            }
        }
        operations.rename = { from, to, flags in
            FuseBridge.perform { fs in
                // RENAME_EXCHANGE (2) swaps two names: not something the store can do at once.
                guard flags & 2 == 0 else { throw FuseError(EINVAL) }
                try fs.rename(FuseBridge.path(from), FuseBridge.path(to), noReplace: flags & 1 != 0)
                return 0
            }
        }
        // Modes, owners and times are not kept: accepted so that cp -p and rsync -a go on.
        operations.chmod = { _, _, _ in FuseBridge.perform { fs in fs.readOnly ? -EROFS : 0 } }
        operations.chown = { _, _, _, _ in FuseBridge.perform { fs in fs.readOnly ? -EROFS : 0 } }
        operations.utimens = { _, _, _ in FuseBridge.perform { fs in fs.readOnly ? -EROFS : 0 } }
        operations.statfs = { _, stat in
            FuseBridge.perform { fs in
                let capacity = fs.capacity()
                var value = statvfs()
                value.f_bsize = 4096
                value.f_frsize = 4096
                value.f_blocks = fsblkcnt_t(max(capacity.total, 0) / 4096)
                value.f_bfree = fsblkcnt_t(max(capacity.free, 0) / 4096)
                value.f_bavail = value.f_bfree
                value.f_namemax = 255
                stat!.pointee = value
                return 0
            }
        }
        return operations
    }
}

/// A mounted libfuse file system: made, mounted, run on its own threads, unmounted.
/// `@unchecked Sendable`: it holds libfuse's `struct fuse *`, of which only `fuse_exit` is
/// called from another thread than the loop's (libfuse allows it); unmounting and freeing
/// come after the loop, on the thread that ran it.
final class FuseSession: @unchecked Sendable {
    private let fuse: OpaquePointer
    private let fileSystem: Unmanaged<MountFileSystem>
    private let mountpoint: String
    private let unmounted = Mutex(false)

    /// Makes and mounts; throws with libfuse's reason in one line.
    init(fileSystem: MountFileSystem, mountpoint: String, options: String) throws {
        self.mountpoint = mountpoint
        let retained = Unmanaged.passRetained(fileSystem)
        var operations = FuseBridge.operations()
        var arguments: [UnsafeMutablePointer<CChar>?] = ["fsdfsd", "-o", options].map { (text: String) in strdup(text) }
        defer { for argument in arguments { free(argument) } }
        let made = arguments.withUnsafeMutableBufferPointer { buffer -> OpaquePointer? in
            var args = fuse_args(argc: Int32(buffer.count), argv: buffer.baseAddress, allocated: 0)
            defer { if args.allocated != 0 { fuse_opt_free_args(&args) } }
            return fsdfs_fuse_new(&args, &operations, retained.toOpaque())
        }
        guard let made else {
            retained.release()
            throw CommandFailure("cannot start FUSE with options \(options) (libfuse's message is above)")
        }
        guard fuse_mount(made, mountpoint) == 0 else {
            fuse_destroy(made)
            retained.release()
            throw CommandFailure("cannot mount at \(mountpoint): is /dev/fuse there, fusermount3 installed (Debian: fuse3), and the directory empty?")
        }
        fuse = made
        self.fileSystem = retained
    }

    /// Serves requests on libfuse's threads until the file system is unmounted; blocks.
    func loop() -> Int32 {
        fsdfs_fuse_loop_mt(fuse)
    }

    /// Asks the loop to end and detaches the mount (lazily, as `fusermount3 -u -z` does), from
    /// another thread than the loop's: libfuse's own state is left to ``destroy()``, after
    /// the loop. Once.
    func requestUnmount() {
        let first = unmounted.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        fuse_exit(fuse)
        if geteuid() == 0, umount2(mountpoint, Int32(MNT_DETACH)) == 0 { return }
        let helper = Process()
        helper.executableURL = URL(fileURLWithPath: "/usr/bin/fusermount3")
        helper.arguments = ["-u", "-z", mountpoint]
        do {
            try helper.run()
            helper.waitUntilExit()
        } catch {
            FileHandle.standardError.write(Data("mount: cannot run fusermount3 -u -z \(mountpoint): \(error)\n".utf8))
        }
    }

    /// After the loop: unmounts if still mounted, and frees libfuse's state.
    func destroy() {
        fuse_unmount(fuse)
        fuse_destroy(fuse)
        fileSystem.release()
    }
}
