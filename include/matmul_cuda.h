// Matmuls of the GPU path, through cuBLASLt: bf16 operands, fp32 accumulation,
// bias and GELU fused into the epilogue. Same shapes as matmul_forward /
// matmul_backward in layers.h: out[N,OC] = inp[N,C] @ weight[OC,C]^T (+ bias).
// The algorithm for each shape (and epilogue and pointer alignment) is chosen by
// cuBLASLt's heuristic once and cached. cuBLASLt gives bitwise identical results
// run to run on the same GPU model for a fixed algorithm, so the matmuls need no
// deterministic switch.
#ifndef SCPT_MATMUL_CUDA_H
#define SCPT_MATMUL_CUDA_H

#include "cuda_common.h"

#ifdef __cplusplus
extern "C" {
#endif

// creates the cuBLASLt handle and a workspace (once per process)
void matmul_cuda_init(void);
size_t matmul_cuda_workspace_bytes(void);
void matmul_cuda_free(void);

// out = inp @ weight^T (+ bias when not NULL); overwrites out. With pre_gelu not
// NULL, pre_gelu gets that result and out = gelu(pre_gelu) (tanh approximation,
// computed in fp32 before rounding).
void matmul_forward_cuda(floatX *out, floatX *pre_gelu, const floatX *inp, const floatX *weight, const floatX *bias,
                         int N, int C, int OC, cudaStream_t stream);

// dinp = dout @ weight OVERWRITES dinp (it is a fresh activation gradient on the GPU
// path), multiplied by gelu'(pre_gelu) when pre_gelu is not NULL (the backward of a
// GELU that followed the matmul producing pre_gelu, fused). dweight += dout^T @ inp
// and dbias += column sums of dout ADD (fp32, gradient accumulation); dbias may be
// NULL. The bias sum is a deterministic two-pass reduction in scratch.
size_t matmul_backward_scratch_bytes(int N, int OC);
void matmul_backward_cuda(floatX *dinp, float *dweight, float *dbias, const floatX *dout, const floatX *inp,
                          const floatX *weight, const floatX *pre_gelu, int N, int C, int OC, void *scratch,
                          cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
