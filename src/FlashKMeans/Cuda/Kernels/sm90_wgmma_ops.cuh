// One k-step (32 bytes of every row) of a 64 x 128 wgmma tile (sm_90a), D (+)= A * B^T with B K-major in
// shared memory behind a 128-byte-swizzle descriptor, for each element type:
//   register_a::T  A as 16 rows per warp in the mma.sync fragment layout, in registers (ldmatrix_x4 of
//                  sm90_layout.cuh loads it): flash_assign_wgmma.cu (run_rs) and flash_assign_ws.cu;
//   shared_a::T    A K-major in shared memory behind a descriptor too: flash_assign_wgmma.cu (run).
// The instruction text is built once below; only the shape and types differ.
#pragma once
#include <stdint.h>

#define FKM_WGMMA_ACC "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63}"
#define FKM_WGMMA_ACC_OUT "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])

// A in registers: operands 64-67 are A, 68 the B descriptor, 69 the scale-d flag.
#define FKM_WGMMA_REGISTER_A(NAME, SHAPE_TYPES, TAIL)                                                              \
    struct NAME {                                                                                                  \
        __device__ __forceinline__ static void mma(float (&d)[64], const uint32_t (&a)[4], uint64_t desc_b,         \
                                                   int accumulate)                                                  \
        {                                                                                                          \
            asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"                                              \
                         "wgmma.mma_async.sync.aligned." SHAPE_TYPES " " FKM_WGMMA_ACC ", {%64,%65,%66,%67}, %68, p, 1, 1" TAIL ";\n}\n" \
                         : FKM_WGMMA_ACC_OUT                                                                       \
                         : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(accumulate));             \
        }                                                                                                          \
    };

// A in shared memory: operand 64 is the A descriptor, 65 the B descriptor, 66 the scale-d flag.
#define FKM_WGMMA_SHARED_A(NAME, SHAPE_TYPES, TAIL)                                                                \
    struct NAME {                                                                                                  \
        __device__ __forceinline__ static void mma(float (&d)[64], uint64_t desc_a, uint64_t desc_b, int accumulate) \
        {                                                                                                          \
            asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"                                              \
                         "wgmma.mma_async.sync.aligned." SHAPE_TYPES " " FKM_WGMMA_ACC ", %64, %65, p, 1, 1" TAIL ";\n}\n" \
                         : FKM_WGMMA_ACC_OUT                                                                       \
                         : "l"(desc_a), "l"(desc_b), "r"(accumulate));                                             \
        }                                                                                                          \
    };

namespace register_a {
FKM_WGMMA_REGISTER_A(F16, "m64n128k16.f32.f16.f16", ", 0")
FKM_WGMMA_REGISTER_A(BF16, "m64n128k16.f32.bf16.bf16", ", 0")
FKM_WGMMA_REGISTER_A(TF32, "m64n128k8.f32.tf32.tf32", "")
}  // namespace register_a

namespace shared_a {
FKM_WGMMA_SHARED_A(F16, "m64n128k16.f32.f16.f16", ", 0, 0")
FKM_WGMMA_SHARED_A(BF16, "m64n128k16.f32.bf16.bf16", ", 0, 0")
FKM_WGMMA_SHARED_A(TF32, "m64n128k8.f32.tf32.tf32", "")
}  // namespace shared_a
