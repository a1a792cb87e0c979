// Shared by the CUDA path: the activation/parameter type and error checks.
// Usable from C and CUDA C++ alike.
#ifndef SCPT_CUDA_COMMON_H
#define SCPT_CUDA_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cublasLt.h>

// Parameters and activations on the GPU are bf16; master weights, optimizer
// state, parameter gradients and all accumulations are fp32. C sees only the raw
// 16-bit struct, which has the same size and layout as the CUDA C++ class.
#ifdef __cplusplus
typedef __nv_bfloat16 floatX;
#else
typedef __nv_bfloat16_raw floatX;
#endif

// A failed CUDA or cuBLAS call is a bug or a broken device, not bad user input:
// report file:line and the library's message, then exit.
#define CUDA_CHECK(call)                                                                           \
    do {                                                                                           \
        cudaError_t err_ = (call);                                                                 \
        if (err_ != cudaSuccess) {                                                                 \
            fprintf(stderr, "%s:%d: CUDA error: %s (%s)\n", __FILE__, __LINE__,                    \
                    cudaGetErrorString(err_), #call);                                              \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define CUBLAS_CHECK(call)                                                                         \
    do {                                                                                           \
        cublasStatus_t st_ = (call);                                                               \
        if (st_ != CUBLAS_STATUS_SUCCESS) {                                                        \
            fprintf(stderr, "%s:%d: cuBLAS error %d (%s)\n", __FILE__, __LINE__, (int)st_, #call); \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

// after a kernel launch: catches bad launch configurations at the call site
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())

#endif
