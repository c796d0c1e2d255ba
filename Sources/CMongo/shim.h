#ifndef FSDFS_CMONGO_SHIM_H
#define FSDFS_CMONGO_SHIM_H
// libmongoc and libbson, seen from Swift as the CMongo module.
// Macros and variadic helpers that Swift cannot import directly get small
// static inline wrappers here as the MongoDB catalog needs them.
#include <mongoc/mongoc.h>
#include <bson/bson.h>
#endif
