//go:build amd64 && !purego

#include "textflag.h"

// AVX2 row kernels for the letterbox (see letterbox_amd64.go and vtaps).
// Each step takes 8 outputs. In the gather kernels, VPGATHERDD loads per
// lane the 4 bytes at the tap's i0 and VPSHUFB widens the tap's two samples
// (bytes 0,1 for unit 1; U at 0,2 and V at 1,3 for NV12) to 16-bit words; in
// the window kernels (at the end) VPSHUFB picks them out of 16-byte windows.
// Then VPMADDWD with the (w0, w1) word pair gives the exact horizontal blend
// h = s0*w0 + s1*w1 (< 1<<22).

// Byte shuffles: per 32-bit lane, bytes a and b to words (a, b).
DATA lumaShuf<>+0(SB)/8, $0x8005800480018000
DATA lumaShuf<>+8(SB)/8, $0x800D800C80098008
DATA lumaShuf<>+16(SB)/8, $0x8005800480018000
DATA lumaShuf<>+24(SB)/8, $0x800D800C80098008
GLOBL lumaShuf<>(SB), RODATA|NOPTR, $32

DATA nv12U<>+0(SB)/8, $0x8006800480028000
DATA nv12U<>+8(SB)/8, $0x800E800C800A8008
DATA nv12U<>+16(SB)/8, $0x8006800480028000
DATA nv12U<>+24(SB)/8, $0x800E800C800A8008
GLOBL nv12U<>(SB), RODATA|NOPTR, $32

DATA nv12V<>+0(SB)/8, $0x8007800580038001
DATA nv12V<>+8(SB)/8, $0x800F800D800B8009
DATA nv12V<>+16(SB)/8, $0x8007800580038001
DATA nv12V<>+24(SB)/8, $0x800F800D800B8009
GLOBL nv12V<>(SB), RODATA|NOPTR, $32

// float32 constants: 2**-28 (norm, the two-axis weight scale), 255 and
// 2**14 (one, a weight pair's sum).
DATA normF32<>+0(SB)/4, $0x31800000
GLOBL normF32<>(SB), RODATA|NOPTR, $4
DATA hiF32<>+0(SB)/4, $0x437F0000
GLOBL hiF32<>(SB), RODATA|NOPTR, $4
DATA oneF32<>+0(SB)/4, $0x46800000
GLOBL oneF32<>(SB), RODATA|NOPTR, $4

// GATHER loads the 4 bytes at base+Y0[i] into each lane of dst (Y15 is the
// mask, which the gather clears).
#define GATHER(base, dst) \
	VPCMPEQD   Y15, Y15, Y15; \
	VPGATHERDD Y15, (base)(Y0*1), dst

// BLEND turns horizontal blends A (row 0) and B (row 1), 8 int32 each, into
// float32(A*wy0 + B*wy1) in O, with wy1 (float32) in Y12's partner Y13 and
// 2**14 in Y12. The taps' weights sum to 2**14 (makeTaps), so the sum is
// A*2**14 + (B-A)*wy1: A, B-A (both below 2**23) and A*2**14 are exact in
// float32, and one fused multiply-add rounds the exact sum once, as Go's int
// to float32 conversion does. T1 is scratch; XA, XB, T2 and XT2 are unused.
#define BLEND(A, XA, B, XB, T1, XT1, T2, XT2, O) \
	VPSUBD      A, B, T1; \
	VCVTDQ2PS   T1, T1; \
	VCVTDQ2PS   A, O; \
	VMULPS      Y12, O, O; \
	VFMADD231PS Y13, T1, O

// WEIGHTS sets Y12 = 2**14 and Y13 = wy1 (a float64 argument) as float32
// for BLEND; wy0 is 2**14 - wy1 and is not read.
#define WEIGHTS(wy1) \
	VBROADCASTSS oneF32<>(SB), Y12; \
	VCVTSD2SS    wy1, X13, X13; \
	VBROADCASTSS X13, Y13

// Conversion constants, broadcast into the local frame (yuvConv order):
#define K_NORM 0(SP)
#define K_KY 32(SP)
#define K_RV 64(SP)
#define K_GU 96(SP)
#define K_GV 128(SP)
#define K_BU 160(SP)
#define K_KR 192(SP)
#define K_KG 224(SP)
#define K_KB 256(SP)
#define K_GAINB 288(SP)
#define K_GAING 320(SP)
#define K_GAINR 352(SP)
#define K_BIASB 384(SP)
#define K_BIASG 416(SP)
#define K_BIASR 448(SP)

// SETUP fills the frame from the *yuvConv in BX and sets Y11 = 255, Y14 = 0.
#define BCAST(off, dst) \
	VBROADCASTSS off(BX), Y5; \
	VMOVUPS      Y5, dst

#define SETUP \
	VBROADCASTSS normF32<>(SB), Y5; \
	VMOVUPS      Y5, K_NORM; \
	BCAST(0, K_KY); \
	BCAST(4, K_RV); \
	BCAST(8, K_GU); \
	BCAST(12, K_GV); \
	BCAST(16, K_BU); \
	BCAST(20, K_KR); \
	BCAST(24, K_KG); \
	BCAST(28, K_KB); \
	BCAST(32, K_GAINB); \
	BCAST(36, K_GAING); \
	BCAST(40, K_GAINR); \
	BCAST(44, K_BIASB); \
	BCAST(48, K_BIASG); \
	BCAST(52, K_BIASR); \
	VBROADCASTSS hiF32<>(SB), Y11; \
	VXORPS       Y14, Y14, Y14

// CLAMP is clampTo(v, 255): max(0, v) then min(255, v), with the operands in
// the order that returns v itself when it is -0 (as the Go code does).
#define CLAMP(v) \
	VMAXPS v, Y14, v; \
	VMINPS v, Y11, v

// CONVERT: U in Y4, V in Y9 (0..255 floats), Y in db (DI); writes db, dg
// and dr (in the registers CONV_G and CONV_R take) at output AX, in
// convertRow's order of operations; CONVERT is the three with dg in R10 and
// dr in R11. Y1 holds ky*Y from CONV_B on.
#define CONVERT \
	CONV_B; \
	CONV_G(R10); \
	CONV_R(R11)

#define CONV_B \
	VMOVUPS (DI)(AX*4), Y1; \
	VMULPS  K_KY, Y1, Y1; \
	VMULPS  K_BU, Y4, Y2; \
	VADDPS  Y2, Y1, Y2; \
	VADDPS  K_KB, Y2, Y2; \
	CLAMP(Y2); \
	VMULPS  K_GAINB, Y2, Y2; \
	VADDPS  K_BIASB, Y2, Y2; \
	VMOVUPS Y2, (DI)(AX*4)

#define CONV_G(dg) \
	VMULPS  K_GU, Y4, Y2; \
	VADDPS  Y2, Y1, Y2; \
	VMULPS  K_GV, Y9, Y5; \
	VADDPS  Y5, Y2, Y2; \
	VADDPS  K_KG, Y2, Y2; \
	CLAMP(Y2); \
	VMULPS  K_GAING, Y2, Y2; \
	VADDPS  K_BIASG, Y2, Y2; \
	VMOVUPS Y2, (dg)(AX*4)

#define CONV_R(dr) \
	VMULPS  K_RV, Y9, Y2; \
	VADDPS  Y2, Y1, Y2; \
	VADDPS  K_KR, Y2, Y2; \
	CLAMP(Y2); \
	VMULPS  K_GAINR, Y2, Y2; \
	VADDPS  K_BIASR, Y2, Y2; \
	VMOVUPS Y2, (dr)(AX*4)

// WINDOWS loads, for the 8 outputs at AX, row bytes [b0, b0+16) into the low
// lane and [b1, b1+16) into the high lane of dst, where b0 and b1 (CX, BX)
// are the group's window starts from the base table (R10).
#define WINDOWS(row, dst, xdst) \
	VMOVDQU     (row)(CX*1), xdst; \
	VINSERTI128 $1, (row)(BX*1), dst, dst

// func lumaRowAVX2(dst []float32, r0, r1 []byte, idx, w []int32, wy0, wy1 float64, k, bias float32)
TEXT ·lumaRowAVX2(SB), NOSPLIT, $0-144
	MOVQ         dst_base+0(FP), DI
	MOVQ         dst_len+8(FP), CX
	MOVQ         r0_base+24(FP), SI
	MOVQ         r1_base+48(FP), DX
	MOVQ         idx_base+72(FP), R8
	MOVQ         w_base+96(FP), R9
	WEIGHTS(wy1+128(FP))
	VBROADCASTSS k+136(FP), Y11
	VBROADCASTSS bias+140(FP), Y10
	VMOVDQU      lumaShuf<>(SB), Y14
	XORQ         AX, AX
	SHRQ         $3, CX
	JZ           lumaDone

lumaLoop:
	VMOVDQU  (R8)(AX*4), Y0
	VMOVDQU  (R9)(AX*4), Y3
	GATHER(SI, Y1)
	GATHER(DX, Y2)
	VPSHUFB  Y14, Y1, Y1
	VPSHUFB  Y14, Y2, Y2
	VPMADDWD Y3, Y1, Y1
	VPMADDWD Y3, Y2, Y2
	BLEND(Y1, X1, Y2, X2, Y5, X5, Y6, X6, Y4)
	VMULPS   Y11, Y4, Y4                      // *k
	VADDPS   Y10, Y4, Y4                      // +bias
	VMOVUPS  Y4, (DI)(AX*4)
	ADDQ     $8, AX
	DECQ     CX
	JNZ      lumaLoop

lumaDone:
	VZEROUPPER
	RET

// func chromaRowAVX2(db, dg, dr []float32, u0, u1, v0, v1 []byte, idx, w []int32, wy0, wy1 float64, c *yuvConv)
TEXT ·chromaRowAVX2(SB), NOSPLIT, $480-240
	MOVQ         db_base+0(FP), DI
	MOVQ         db_len+8(FP), CX
	MOVQ         dg_base+24(FP), R10
	MOVQ         dr_base+48(FP), R11
	MOVQ         u0_base+72(FP), SI
	MOVQ         u1_base+96(FP), DX
	MOVQ         v0_base+120(FP), R12
	MOVQ         v1_base+144(FP), R13
	MOVQ         idx_base+168(FP), R8
	MOVQ         w_base+192(FP), R9
	WEIGHTS(wy1+224(FP))
	MOVQ         c+232(FP), BX
	SETUP
	VMOVDQU      lumaShuf<>(SB), Y10
	XORQ         AX, AX
	SHRQ         $3, CX
	JZ           chromaDone

chromaLoop:
	VMOVDQU  (R8)(AX*4), Y0
	VMOVDQU  (R9)(AX*4), Y3
	GATHER(SI, Y1)
	GATHER(DX, Y2)
	VPSHUFB  Y10, Y1, Y1
	VPSHUFB  Y10, Y2, Y2
	VPMADDWD Y3, Y1, Y1
	VPMADDWD Y3, Y2, Y2
	BLEND(Y1, X1, Y2, X2, Y5, X5, Y6, X6, Y4)
	VMULPS   K_NORM, Y4, Y4                   // U
	GATHER(R12, Y1)
	GATHER(R13, Y2)
	VPSHUFB  Y10, Y1, Y1
	VPSHUFB  Y10, Y2, Y2
	VPMADDWD Y3, Y1, Y1
	VPMADDWD Y3, Y2, Y2
	BLEND(Y1, X1, Y2, X2, Y5, X5, Y6, X6, Y9)
	VMULPS   K_NORM, Y9, Y9                   // V
	CONVERT
	ADDQ     $8, AX
	DECQ     CX
	JNZ      chromaLoop

chromaDone:
	VZEROUPPER
	RET

// func chromaRowNV12AVX2(db, dg, dr []float32, u0, u1 []byte, idx, w []int32, wy0, wy1 float64, c *yuvConv)
TEXT ·chromaRowNV12AVX2(SB), NOSPLIT, $480-192
	MOVQ         db_base+0(FP), DI
	MOVQ         db_len+8(FP), CX
	MOVQ         dg_base+24(FP), R10
	MOVQ         dr_base+48(FP), R11
	MOVQ         u0_base+72(FP), SI
	MOVQ         u1_base+96(FP), DX
	MOVQ         idx_base+120(FP), R8
	MOVQ         w_base+144(FP), R9
	WEIGHTS(wy1+176(FP))
	MOVQ         c+184(FP), BX
	SETUP
	VMOVDQU      nv12V<>(SB), Y10
	XORQ         AX, AX
	SHRQ         $3, CX
	JZ           nv12Done

nv12Loop:
	VMOVDQU  (R8)(AX*4), Y0
	VMOVDQU  (R9)(AX*4), Y3
	GATHER(SI, Y1)                            // U0 V0 U1 V1 of row 0
	GATHER(DX, Y2)                            // and of row 1
	VPSHUFB  nv12U<>(SB), Y1, Y5
	VPSHUFB  nv12U<>(SB), Y2, Y6
	VPMADDWD Y3, Y5, Y5
	VPMADDWD Y3, Y6, Y6
	BLEND(Y5, X5, Y6, X6, Y7, X7, Y8, X8, Y4)
	VMULPS   K_NORM, Y4, Y4                   // U
	VPSHUFB  Y10, Y1, Y1
	VPSHUFB  Y10, Y2, Y2
	VPMADDWD Y3, Y1, Y1
	VPMADDWD Y3, Y2, Y2
	BLEND(Y1, X1, Y2, X2, Y7, X7, Y8, X8, Y9)
	VMULPS   K_NORM, Y9, Y9                   // V
	CONVERT
	ADDQ     $8, AX
	DECQ     CX
	JNZ      nv12Loop

nv12Done:
	VZEROUPPER
	RET

// The window kernels: instead of gathers, each group of 4 outputs reads one
// 16-byte window per row, and VPSHUFB with the taps' control bytes (in place
// of idx: the offsets of the tap's two samples in the window, 0x80 for a
// zero-weight second sample) picks and widens the samples. Used where every
// group of 4 taps spans at most 16 bytes (downscales up to ~4.6x).

// func lumaRowWinAVX2(dst []float32, r0, r1 []byte, ctrl, w, base []int32, wy0, wy1 float64, k, bias float32)
TEXT ·lumaRowWinAVX2(SB), NOSPLIT, $0-168
	MOVQ         dst_base+0(FP), DI
	MOVQ         r0_base+24(FP), SI
	MOVQ         r1_base+48(FP), DX
	MOVQ         ctrl_base+72(FP), R8
	MOVQ         w_base+96(FP), R9
	MOVQ         base_base+120(FP), R10
	WEIGHTS(wy1+152(FP))
	VBROADCASTSS k+160(FP), Y11
	VBROADCASTSS bias+164(FP), Y10
	XORQ         AX, AX
	CMPQ         AX, dst_len+8(FP)
	JGE          lumaWinDone

lumaWinLoop:
	MOVLQSX  (R10)(AX*1), CX
	MOVLQSX  4(R10)(AX*1), BX
	WINDOWS(SI, Y1, X1)
	WINDOWS(DX, Y2, X2)
	VMOVDQU  (R8)(AX*4), Y0
	VMOVDQU  (R9)(AX*4), Y3
	VPSHUFB  Y0, Y1, Y1
	VPSHUFB  Y0, Y2, Y2
	VPMADDWD Y3, Y1, Y1
	VPMADDWD Y3, Y2, Y2
	BLEND(Y1, X1, Y2, X2, Y5, X5, Y6, X6, Y4)
	VMULPS   Y11, Y4, Y4                      // *k
	VADDPS   Y10, Y4, Y4                      // +bias
	VMOVUPS  Y4, (DI)(AX*4)
	ADDQ     $8, AX
	CMPQ     AX, dst_len+8(FP)
	JLT      lumaWinLoop

lumaWinDone:
	VZEROUPPER
	RET

// func chromaRowWinAVX2(db, dg, dr []float32, u0, u1, v0, v1 []byte, ctrl, w, base []int32, wy0, wy1 float64, c *yuvConv)
TEXT ·chromaRowWinAVX2(SB), NOSPLIT, $480-264
	MOVQ         db_base+0(FP), DI
	MOVQ         u0_base+72(FP), SI
	MOVQ         u1_base+96(FP), DX
	MOVQ         v0_base+120(FP), R12
	MOVQ         v1_base+144(FP), R13
	MOVQ         ctrl_base+168(FP), R8
	MOVQ         w_base+192(FP), R9
	MOVQ         base_base+216(FP), R10
	WEIGHTS(wy1+248(FP))
	MOVQ         c+256(FP), BX
	SETUP
	XORQ         AX, AX
	CMPQ         AX, db_len+8(FP)
	JGE          chromaWinDone

chromaWinLoop:
	MOVLQSX  (R10)(AX*1), CX
	MOVLQSX  4(R10)(AX*1), BX
	VMOVDQU  (R8)(AX*4), Y10
	VMOVDQU  (R9)(AX*4), Y3
	WINDOWS(SI, Y1, X1)
	WINDOWS(DX, Y2, X2)
	VPSHUFB  Y10, Y1, Y1
	VPSHUFB  Y10, Y2, Y2
	VPMADDWD Y3, Y1, Y1
	VPMADDWD Y3, Y2, Y2
	BLEND(Y1, X1, Y2, X2, Y5, X5, Y6, X6, Y4)
	VMULPS   K_NORM, Y4, Y4                   // U
	WINDOWS(R12, Y1, X1)
	WINDOWS(R13, Y2, X2)
	VPSHUFB  Y10, Y1, Y1
	VPSHUFB  Y10, Y2, Y2
	VPMADDWD Y3, Y1, Y1
	VPMADDWD Y3, Y2, Y2
	BLEND(Y1, X1, Y2, X2, Y5, X5, Y6, X6, Y9)
	VMULPS   K_NORM, Y9, Y9                   // V
	CONV_B
	MOVQ     dg_base+24(FP), R11
	CONV_G(R11)
	MOVQ     dr_base+48(FP), R11
	CONV_R(R11)
	ADDQ     $8, AX
	CMPQ     AX, db_len+8(FP)
	JLT      chromaWinLoop

chromaWinDone:
	VZEROUPPER
	RET

// WINDOWS2 loads, for the 8 outputs at AX, row bytes [b0, b0+16) and
// [b1, b1+16) into the lanes of a, and the 16 bytes after each into b.
#define WINDOWS2(row, a, xa, b, xb) \
	VMOVDQU     (row)(CX*1), xa; \
	VINSERTI128 $1, (row)(BX*1), a, a; \
	VMOVDQU     16(row)(CX*1), xb; \
	VINSERTI128 $1, 16(row)(BX*1), b, b

// func chromaRowNV12WinAVX2(db, dg, dr []float32, u0, u1 []byte, ctrl, w, base []int32, wy0, wy1 float64, c *yuvConv)
TEXT ·chromaRowNV12WinAVX2(SB), NOSPLIT, $480-216
	MOVQ         db_base+0(FP), DI
	MOVQ         u0_base+72(FP), SI
	MOVQ         u1_base+96(FP), DX
	MOVQ         ctrl_base+120(FP), R8
	MOVQ         w_base+144(FP), R9
	MOVQ         base_base+168(FP), R10
	WEIGHTS(wy1+200(FP))
	MOVQ         c+208(FP), BX
	SETUP
	XORQ         AX, AX
	CMPQ         AX, db_len+8(FP)
	JGE          nv12WinDone

nv12WinLoop:
	MOVLQSX  (R10)(AX*1), CX
	MOVLQSX  4(R10)(AX*1), BX
	VMOVDQU  (R9)(AX*4), Y3
	WINDOWS2(SI, Y1, X1, Y2, X2)              // row 0
	WINDOWS2(DX, Y5, X5, Y6, X6)              // row 1
	VMOVDQU  32(R8), Y0
	VPSHUFB  (R8), Y1, Y7                     // U, row 0
	VPSHUFB  Y0, Y2, Y4
	VPOR     Y4, Y7, Y7
	VPSHUFB  (R8), Y5, Y8                     // U, row 1
	VPSHUFB  Y0, Y6, Y4
	VPOR     Y4, Y8, Y8
	VPMADDWD Y3, Y7, Y7
	VPMADDWD Y3, Y8, Y8
	BLEND(Y7, X7, Y8, X8, Y0, X0, Y9, X9, Y4)
	VMULPS   K_NORM, Y4, Y4                   // U
	VMOVDQU  96(R8), Y0
	VPSHUFB  64(R8), Y1, Y1                   // V, row 0
	VPSHUFB  Y0, Y2, Y2
	VPOR     Y2, Y1, Y1
	VPSHUFB  64(R8), Y5, Y5                   // V, row 1
	VPSHUFB  Y0, Y6, Y6
	VPOR     Y6, Y5, Y5
	VPMADDWD Y3, Y1, Y1
	VPMADDWD Y3, Y5, Y5
	BLEND(Y1, X1, Y5, X5, Y0, X0, Y7, X7, Y9)
	VMULPS   K_NORM, Y9, Y9                   // V
	CONV_B
	MOVQ     dg_base+24(FP), R11
	CONV_G(R11)
	MOVQ     dr_base+48(FP), R11
	CONV_R(R11)
	ADDQ     $128, R8
	ADDQ     $8, AX
	CMPQ     AX, db_len+8(FP)
	JLT      nv12WinLoop

nv12WinDone:
	VZEROUPPER
	RET

// func prefetchLines(p *byte, n int): PREFETCHT0 every 64-byte line of p[:n].
TEXT ·prefetchLines(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), AX
	MOVQ n+8(FP), CX
pfloop:
	CMPQ CX, $0
	JLE pfdone
	PREFETCHT0 (AX)
	ADDQ $64, AX
	SUBQ $64, CX
	JMP pfloop
pfdone:
	RET
