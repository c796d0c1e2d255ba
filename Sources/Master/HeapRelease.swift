import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc

/// `malloc_trim(3)` (glibc ≥ 2.8), which Glibc's Swift module leaves out (it is declared in
/// `malloc.h`, outside the module map). Same C signature, `int malloc_trim(size_t pad)`.
@_silgen_name("malloc_trim")
private func systemMallocTrim(_ pad: Int) -> Int32

/// `mallopt(3)`, also declared in `malloc.h` only. Same C signature, `int mallopt(int, int)`.
@_silgen_name("mallopt")
private func systemMallopt(_ parameter: Int32, _ value: Int32) -> Int32

/// `M_ARENA_MAX` of `malloc.h`.
private let mallocArenaMax: Int32 = -8
#endif

/// Gives the heap that work on a whole node's files freed back to the kernel. glibc keeps
/// freed memory in its arenas for reuse, so after a recovery (its per-path map of every
/// version taken) or a whole inventory of a million files, the master's RSS would otherwise
/// stay at the peak while it sits idle.
public enum HeapRelease {
    /// Work on fewer files than this leaves too little behind to be worth a trim.
    static let worthwhileFiles = 50_000

    /// Caps glibc's arenas at one per core (its default is eight per core). Each thread that
    /// meets a busy arena takes another, and every arena keeps what was freed in it for its
    /// own reuse: a master that matched 300,000 files held 16 arenas, 157 MiB of their
    /// 189 MiB free and much of it resident, which `malloc_trim` cannot give back where
    /// the free chunks are smaller than a page. Call once at start, before the work threads.
    public static func limitArenas() {
        #if canImport(Glibc)
        _ = systemMallopt(mallocArenaMax, Int32(max(2, System.coreCount)))
        #endif
    }

    /// Trims every arena, on NIO's blocking pool: it walks them all, which takes milliseconds.
    static func trim() async {
        #if canImport(Glibc)
        _ = try? await NIOThreadPool.singleton.runIfActive { systemMallocTrim(0) }
        #endif
    }
}
