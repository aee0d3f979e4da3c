/*
 * kernels/mma_bf16.cuh — the one bf16 tensor-core instruction the fast order
 * uses, shared by the fast matmul (kernels/matmul_fast.cu) and the probe that
 * checks it against the CPU model (kernels/mma_probe.cu).
 *
 * d = mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32(a, b, d): a 16x16 bf16
 * A fragment (a[0]: row g, k 2t..2t+1; a[1]: row g+8; a[2]: row g, k 2t+8..;
 * a[3]: row g+8, k 2t+8..), a 16x8 B fragment (b0: k 2t..2t+1 of column g;
 * b1: k 2t+8..), the 16x8 fp32 accumulator (d[0..1]: row g, columns 2t, 2t+1;
 * d[2..3]: row g+8), g = lane / 4, t = lane % 4; the lower-indexed element in
 * each word's low half.  What it computes: docs/numerics.md 10.2.
 */
#ifndef LC_MMA_BF16_CUH
#define LC_MMA_BF16_CUH

#include <stdint.h>

static __device__ __forceinline__ void mma_bf16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                                uint32_t b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

#endif /* LC_MMA_BF16_CUH */
