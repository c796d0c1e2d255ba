// libfuse 3's high-level API (Debian's libfuse3-dev), at API version 3.1. Function-like
// macros select libfuse's versioned symbols; Swift cannot call macros, so the two that
// `fsdfsd mount` needs are wrapped here.
#define FUSE_USE_VERSION 31
#include <fuse.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

static inline struct fuse *fsdfs_fuse_new(struct fuse_args *args, const struct fuse_operations *operations,
                                          void *private_data) {
    return fuse_new(args, operations, sizeof(struct fuse_operations), private_data);
}

static inline int fsdfs_fuse_loop_mt(struct fuse *fuse) {
    return fuse_loop_mt(fuse, 0);
}
