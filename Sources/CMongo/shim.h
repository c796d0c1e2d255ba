#ifndef FSDFS_CMONGO_SHIM_H
#define FSDFS_CMONGO_SHIM_H
// libmongoc and libbson, seen from Swift as the CMongo module.
// Macros and variadic helpers that Swift cannot import directly get small
// static inline wrappers here as the MongoDB catalog needs them.
#include <mongoc/mongoc.h>
#include <bson/bson.h>

// bson_t is declared with 128-byte alignment, so Swift imports it as an opaque pointer and
// cannot size it: callers allocate storage for a bson_t with these.
static inline size_t fsdfs_bson_size(void) { return sizeof(bson_t); }
static inline size_t fsdfs_bson_alignment(void) { return _Alignof(bson_t); }
// bson_iter_t has the same 128-byte alignment.
static inline size_t fsdfs_bson_iter_size(void) { return sizeof(bson_iter_t); }
static inline size_t fsdfs_bson_iter_alignment(void) { return _Alignof(bson_iter_t); }
#endif
