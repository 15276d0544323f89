/* A stand-in for NCCL's libnccl.so.2, built with gcc by NcclTests: the functions GpuNet binds, with NCCL's exact C
 * signatures (nccl.h), recording every argument they get, plus fake_nccl_* functions for the tests to read the
 * records, make the next call of a function fail, and reset. No CUDA anywhere. */
#include <stdint.h>
#include <string.h>

typedef struct ncclComm* ncclComm_t;
typedef struct { char internal[128]; } ncclUniqueId;
typedef int ncclResult_t;
typedef int ncclDataType_t;
typedef int ncclRedOp_t;
typedef struct CUstream_st* cudaStream_t;

static struct {
    int64_t getUniqueIdCalls, initRankCalls, allReduceCalls, destroyCalls;
    int64_t initNranks, initRank;
    unsigned char initId[128];
    int64_t sendbuff, recvbuff, count, datatype, op, comm, stream;
    int64_t destroyed;
    int64_t compute; /* when set, ncclAllReduce really does recv[i] = send[i] * nranks for floats */
    int64_t asyncErrorCalls, abortCalls, aborted;
    int asyncError; /* what ncclCommGetAsyncError reports */
    char failFunction[64];
    int failCode;
} record;

static char communicatorObject;

static ncclResult_t failure(const char* function) {
    if (record.failCode != 0 && strcmp(record.failFunction, function) == 0) {
        int code = record.failCode;
        record.failCode = 0;
        return code;
    }
    return 0;
}

ncclResult_t ncclGetVersion(int* version) {
    *version = 22703;
    return failure("ncclGetVersion");
}

ncclResult_t ncclGetUniqueId(ncclUniqueId* uniqueId) {
    record.getUniqueIdCalls++;
    for (int i = 0; i < 128; i++) {
        uniqueId->internal[i] = (char)(i * 7 + 3);
    }
    return failure("ncclGetUniqueId");
}

ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId commId, int rank) {
    record.initRankCalls++;
    record.initNranks = nranks;
    record.initRank = rank;
    memcpy(record.initId, commId.internal, 128);
    ncclResult_t code = failure("ncclCommInitRank");
    if (code == 0) {
        *comm = (ncclComm_t)&communicatorObject;
    }
    return code;
}

ncclResult_t ncclAllReduce(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                           ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream) {
    record.allReduceCalls++;
    record.sendbuff = (int64_t)(intptr_t)sendbuff;
    record.recvbuff = (int64_t)(intptr_t)recvbuff;
    record.count = (int64_t)count;
    record.datatype = datatype;
    record.op = op;
    record.comm = (int64_t)(intptr_t)comm;
    record.stream = (int64_t)(intptr_t)stream;
    if (record.compute && datatype == 7) {
        for (size_t i = 0; i < count; i++) {
            ((float*)recvbuff)[i] = ((const float*)sendbuff)[i] * (float)record.initNranks;
        }
    }
    return failure("ncclAllReduce");
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
    record.destroyCalls++;
    record.destroyed = (int64_t)(intptr_t)comm;
    return failure("ncclCommDestroy");
}

ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t* asyncError) {
    record.asyncErrorCalls++;
    record.comm = (int64_t)(intptr_t)comm;
    *asyncError = record.asyncError;
    return failure("ncclCommGetAsyncError");
}

ncclResult_t ncclCommAbort(ncclComm_t comm) {
    record.abortCalls++;
    record.aborted = (int64_t)(intptr_t)comm;
    return failure("ncclCommAbort");
}

const char* ncclGetErrorString(ncclResult_t result) {
    switch (result) {
    case 0: return "no error";
    case 2: return "unhandled system error (run with NCCL_DEBUG=INFO for details)";
    case 5: return "invalid usage (run with NCCL_DEBUG=WARN for details)";
    default: return "fake NCCL error";
    }
}

/* The record, by name; -1 for an unknown name. */
int64_t fake_nccl_get(const char* name) {
    struct { const char* name; int64_t value; } fields[] = {
        {"getUniqueIdCalls", record.getUniqueIdCalls}, {"initRankCalls", record.initRankCalls},
        {"allReduceCalls", record.allReduceCalls}, {"destroyCalls", record.destroyCalls},
        {"initNranks", record.initNranks}, {"initRank", record.initRank},
        {"sendbuff", record.sendbuff}, {"recvbuff", record.recvbuff}, {"count", record.count},
        {"datatype", record.datatype}, {"op", record.op}, {"comm", record.comm}, {"stream", record.stream},
        {"destroyed", record.destroyed}, {"communicator", (int64_t)(intptr_t)&communicatorObject},
        {"asyncErrorCalls", record.asyncErrorCalls}, {"abortCalls", record.abortCalls}, {"aborted", record.aborted},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (strcmp(fields[i].name, name) == 0) {
            return fields[i].value;
        }
    }
    return -1;
}

/* The 128 bytes ncclCommInitRank got. */
void fake_nccl_init_id(unsigned char* out) {
    memcpy(out, record.initId, 128);
}

/* The next call of function returns code. */
void fake_nccl_fail(const char* function, int code) {
    strncpy(record.failFunction, function, sizeof(record.failFunction) - 1);
    record.failCode = code;
}

/* What ncclCommGetAsyncError reports from now on (a peer lost mid-collective: ncclSystemError, 2). */
void fake_nccl_async_error(int code) {
    record.asyncError = code;
}

void fake_nccl_compute(int on) {
    record.compute = on;
}

void fake_nccl_reset(void) {
    memset(&record, 0, sizeof(record));
}
