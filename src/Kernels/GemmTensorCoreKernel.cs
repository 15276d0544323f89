// The TF32 tensor-core GEMM: C (M, N) = sum over k of tf32(A(m, k)) tf32(B(k, n)), accumulated in fp32, for the same
// operands, outputs and split-K as the fp32 kernels (GemmKernels.cs).
// - Tiles: a group of WarpsM x WarpsN warps computes BM x BN = 64 WarpsM x 32 WarpsN of C (128 x 128, 128 x 64,
//   64 x 128, 64 x 64); each warp a 64 x 32 warp tile, 4 x 4 mma tiles of 16 x 8 (64 accumulators a lane).
// - K in steps of 16 through a 3-stage pipeline: stage s of each operand is copied global -> shared by cp.async (16
//   bytes where the operand is a plain matrix with 16-byte-aligned rows, else 4 bytes with zero-fill for padding and
//   edges) while the two before it are multiplied; one cp.async.wait_group and one barrier per stage.
// - Shared layout, per operand and stage: along k ([line][16 k], the operand's k contiguous in memory) with the 16-byte
//   chunk index XORed with (line / 2) % 4, or along the lines ([k][BL lines]) with the chunk index XORed with 2 (k % 4).
//   Either way a warp's fragment loads (8 lines g by 4 k t, or 4 k by 8 lines) hit 32 different banks, and the copies'
//   stores (consecutive threads on consecutive chunks or elements) are conflict-free too.
// - Fragments are read from shared memory as fp32 and rounded to TF32 (cvt.rna) on the way to mma; the epilogue stores
//   each lane's accumulators through the output's Store (bias, ReLU, mask, NCHW), or as a split-K partial that the
//   tile's last group sums (SplitKReduction).
// The accumulators, the fragment loads with their mma and the stores are written by tools/gen_gemm_kernels.py.
using ILGPU;

namespace GpuNet.Kernels;

/// <summary>The warps of a tensor-core GEMM group: WarpsM x WarpsN warps of 64 x 32 each (a struct type parameter, so each tile is its own kernel).</summary>
internal interface ITensorTile
{
    /// <summary>Warps along M.</summary>
    int WarpsM { get; }

    /// <summary>Warps along N.</summary>
    int WarpsN { get; }
}

/// <summary>128 x 128: 2 x 4 warps, 256 threads.</summary>
internal readonly struct TensorTile128x128 : ITensorTile
{
    public int WarpsM => 2;

    public int WarpsN => 4;
}

/// <summary>128 x 64: 2 x 2 warps, 128 threads.</summary>
internal readonly struct TensorTile128x64 : ITensorTile
{
    public int WarpsM => 2;

    public int WarpsN => 2;
}

/// <summary>64 x 128: 1 x 4 warps, 128 threads.</summary>
internal readonly struct TensorTile64x128 : ITensorTile
{
    public int WarpsM => 1;

    public int WarpsN => 4;
}

/// <summary>64 x 64: 1 x 2 warps, 64 threads.</summary>
internal readonly struct TensorTile64x64 : ITensorTile
{
    public int WarpsM => 1;

    public int WarpsN => 2;
}

/// <summary>The TF32 tensor-core GEMM kernel.</summary>
internal static class GemmTensorCoreKernel
{
    /// <summary>K per pipeline stage.</summary>
    public const int StageK = 16;

    /// <summary>Pipeline stages.</summary>
    public const int Stages = 3;

    /// <summary>Shared memory of a tile's pipeline, in bytes (without an emulated mma's exchange).</summary>
    public static int SharedBytes(int tileM, int tileN) => Stages * (tileM + tileN) * StageK * sizeof(float);

    /// <summary>
    /// GPU kernel: one BM x BN tile of C (one split of K) per group of 32 WarpsM WarpsN threads (a 1-D group), K in
    /// stages of 16 through a 3-stage cp.async pipeline, each warp a 64 x 32 tile in 16 m16n8k8 TF32 mma per k8 step.
    /// </summary>
    [GpuKernel]
    public static void Kernel<TTile, TCore, TA, TB, TOut>(TA a, TB b, TOut output, GemmGrid g, GemmSplitK splitK)
        where TTile : struct, ITensorTile
        where TCore : struct, IMmaCore
        where TA : struct, IGemmOperand
        where TB : struct, IGemmOperand
        where TOut : struct, IGemmOut
    {
        var tile = default(TTile);
        var core = default(TCore);
        int bm = 64 * tile.WarpsM, bn = 32 * tile.WarpsN, threads = 32 * tile.WarpsM * tile.WarpsN;
        int aStageSize = bm * StageK, bStageSize = bn * StageK;
        int bFirst = Stages * aStageSize, exchangeFirst = Stages * (aStageSize + bStageSize);

        // Stage s of A at s * aStageSize, of B at bFirst + s * bStageSize, then the emulated mma's exchange.
        var shared = SharedMemory.Allocate<float>((Stages * (aStageSize + bStageSize)) + core.ExchangeLength);
        var shared4 = shared.Cast<GemmFloat4>();
        var exchange = shared.SubView(exchangeFirst, core.ExchangeLength).Cast<uint>();

        int tid = Group.IdxX, lane = tid & 31, warp = tid >> 5, gr = lane >> 2, t = lane & 3;
        int warpRow = (warp / tile.WarpsN) * 64, warpCol = (warp % tile.WarpsN) * 32;
        int rowBase = Grid.IdxY * bm, colBase = Grid.IdxX * bn, split = Grid.IdxZ;
        int kBegin = split * g.KPerSplit, kEnd = Math.Min(g.K, kBegin + g.KPerSplit);
        int stages = kEnd > kBegin ? (kEnd - kBegin + StageK - 1) / StageK : 0;

        bool aKMajor = g.AAlongK != 0, bKMajor = g.BAlongN == 0;
        var aLoad = TensorLoader.Of(a, aKMajor, g.AVector != 0, rowBase, g.M, kBegin, tid, bm, threads);
        var bLoad = TensorLoader.Of(b, bKMajor, g.BVector != 0, colBase, g.N, kBegin, tid, bn, threads);

        // Each lane's four fragment bases per operand (see FragmentBase), within a stage.
        int aLane0 = FragmentBase(aKMajor, 0, warpRow, gr, t, bm, 64), aLane1 = FragmentBase(aKMajor, 1, warpRow, gr, t, bm, 64);
        int aLane2 = FragmentBase(aKMajor, 2, warpRow, gr, t, bm, 64), aLane3 = FragmentBase(aKMajor, 3, warpRow, gr, t, bm, 64);
        int bLane0 = FragmentBase(bKMajor, 0, warpCol, gr, t, bn, 32), bLane1 = FragmentBase(bKMajor, 1, warpCol, gr, t, bn, 32);
        int bLane2 = FragmentBase(bKMajor, 2, warpCol, gr, t, bn, 32), bLane3 = FragmentBase(bKMajor, 3, warpCol, gr, t, bn, 32);

        // <generated: accumulators>
        float c000 = 0f, c001 = 0f, c002 = 0f, c003 = 0f, c010 = 0f, c011 = 0f, c012 = 0f, c013 = 0f, c020 = 0f, c021 = 0f, c022 = 0f, c023 = 0f, c030 = 0f, c031 = 0f, c032 = 0f, c033 = 0f;
        float c100 = 0f, c101 = 0f, c102 = 0f, c103 = 0f, c110 = 0f, c111 = 0f, c112 = 0f, c113 = 0f, c120 = 0f, c121 = 0f, c122 = 0f, c123 = 0f, c130 = 0f, c131 = 0f, c132 = 0f, c133 = 0f;
        float c200 = 0f, c201 = 0f, c202 = 0f, c203 = 0f, c210 = 0f, c211 = 0f, c212 = 0f, c213 = 0f, c220 = 0f, c221 = 0f, c222 = 0f, c223 = 0f, c230 = 0f, c231 = 0f, c232 = 0f, c233 = 0f;
        float c300 = 0f, c301 = 0f, c302 = 0f, c303 = 0f, c310 = 0f, c311 = 0f, c312 = 0f, c313 = 0f, c320 = 0f, c321 = 0f, c322 = 0f, c323 = 0f, c330 = 0f, c331 = 0f, c332 = 0f, c333 = 0f;
        // </generated: accumulators>

        // Prologue: stages 0 .. Stages - 2 in flight. Every iteration commits a group, empty or not, so that
        // wait_group(Stages - 2) always means "the stage about to be read has landed".
        for (int s = 0; s < Stages - 1; s++)
        {
            if (s < stages)
            {
                aLoad = aLoad.LoadStage(a, shared, shared4, s * aStageSize, kEnd);
                bLoad = bLoad.LoadStage(b, shared, shared4, bFirst + (s * bStageSize), kEnd);
            }

            TensorCoreOps.CommitGroup();
        }

        MmaAccumulators d;
        for (int s = 0; s < stages; s++)
        {
            TensorCoreOps.WaitGroup(Stages - 2);

            // Stage s has landed for every thread, and every warp has finished reading stage s - 1, whose buffer the
            // copies issued next overwrite.
            Group.Barrier();
            int next = s + Stages - 1;
            if (next < stages)
            {
                int buffer = next % Stages;
                aLoad = aLoad.LoadStage(a, shared, shared4, buffer * aStageSize, kEnd);
                bLoad = bLoad.LoadStage(b, shared, shared4, bFirst + (buffer * bStageSize), kEnd);
            }

            TensorCoreOps.CommitGroup();

            int aStage = (s % Stages) * aStageSize, bStage = bFirst + ((s % Stages) * bStageSize);
            for (int kk = 0; kk < StageK; kk += 8)
            {
                // <generated: fragments>
                // A fragments: rows warpRow + 16 mi + g (+ 8), k = kk + t (+ 4).
                uint a00, a01, a02, a03;
                uint a10, a11, a12, a13;
                uint a20, a21, a22, a23;
                uint a30, a31, a32, a33;
                if (aKMajor)
                {
                    int lo = aStage + (kk == 0 ? aLane0 : aLane2), hi = aStage + (kk == 0 ? aLane1 : aLane3);
                    a00 = TensorCoreOps.RoundToTf32(shared[lo + 0]); a01 = TensorCoreOps.RoundToTf32(shared[lo + 128]); a02 = TensorCoreOps.RoundToTf32(shared[hi + 0]); a03 = TensorCoreOps.RoundToTf32(shared[hi + 128]);
                    a10 = TensorCoreOps.RoundToTf32(shared[lo + 256]); a11 = TensorCoreOps.RoundToTf32(shared[lo + 384]); a12 = TensorCoreOps.RoundToTf32(shared[hi + 256]); a13 = TensorCoreOps.RoundToTf32(shared[hi + 384]);
                    a20 = TensorCoreOps.RoundToTf32(shared[lo + 512]); a21 = TensorCoreOps.RoundToTf32(shared[lo + 640]); a22 = TensorCoreOps.RoundToTf32(shared[hi + 512]); a23 = TensorCoreOps.RoundToTf32(shared[hi + 640]);
                    a30 = TensorCoreOps.RoundToTf32(shared[lo + 768]); a31 = TensorCoreOps.RoundToTf32(shared[lo + 896]); a32 = TensorCoreOps.RoundToTf32(shared[hi + 768]); a33 = TensorCoreOps.RoundToTf32(shared[hi + 896]);
                }
                else
                {
                    int k0 = aStage + (kk * bm), k4 = k0 + (4 * bm);
                    a00 = TensorCoreOps.RoundToTf32(shared[k0 + aLane0]); a01 = TensorCoreOps.RoundToTf32(shared[k0 + aLane1]); a02 = TensorCoreOps.RoundToTf32(shared[k4 + aLane0]); a03 = TensorCoreOps.RoundToTf32(shared[k4 + aLane1]);
                    a10 = TensorCoreOps.RoundToTf32(shared[k0 + aLane2]); a11 = TensorCoreOps.RoundToTf32(shared[k0 + aLane3]); a12 = TensorCoreOps.RoundToTf32(shared[k4 + aLane2]); a13 = TensorCoreOps.RoundToTf32(shared[k4 + aLane3]);
                    a20 = TensorCoreOps.RoundToTf32(shared[k0 + aLane0 + 32]); a21 = TensorCoreOps.RoundToTf32(shared[k0 + aLane1 + 32]); a22 = TensorCoreOps.RoundToTf32(shared[k4 + aLane0 + 32]); a23 = TensorCoreOps.RoundToTf32(shared[k4 + aLane1 + 32]);
                    a30 = TensorCoreOps.RoundToTf32(shared[k0 + aLane2 + 32]); a31 = TensorCoreOps.RoundToTf32(shared[k0 + aLane3 + 32]); a32 = TensorCoreOps.RoundToTf32(shared[k4 + aLane2 + 32]); a33 = TensorCoreOps.RoundToTf32(shared[k4 + aLane3 + 32]);
                }

                // B fragments: columns warpCol + 8 ni + g, k = kk + t (+ 4).
                uint b00, b01, b10, b11, b20, b21, b30, b31;
                if (bKMajor)
                {
                    int lo = bStage + (kk == 0 ? bLane0 : bLane2), hi = bStage + (kk == 0 ? bLane1 : bLane3);
                    b00 = TensorCoreOps.RoundToTf32(shared[lo + 0]); b01 = TensorCoreOps.RoundToTf32(shared[hi + 0]); b10 = TensorCoreOps.RoundToTf32(shared[lo + 128]); b11 = TensorCoreOps.RoundToTf32(shared[hi + 128]); b20 = TensorCoreOps.RoundToTf32(shared[lo + 256]); b21 = TensorCoreOps.RoundToTf32(shared[hi + 256]); b30 = TensorCoreOps.RoundToTf32(shared[lo + 384]); b31 = TensorCoreOps.RoundToTf32(shared[hi + 384]);
                }
                else
                {
                    int k0 = bStage + (kk * bn), k4 = k0 + (4 * bn);
                    b00 = TensorCoreOps.RoundToTf32(shared[k0 + bLane0]); b01 = TensorCoreOps.RoundToTf32(shared[k4 + bLane0]); b10 = TensorCoreOps.RoundToTf32(shared[k0 + bLane1]); b11 = TensorCoreOps.RoundToTf32(shared[k4 + bLane1]); b20 = TensorCoreOps.RoundToTf32(shared[k0 + bLane2]); b21 = TensorCoreOps.RoundToTf32(shared[k4 + bLane2]); b30 = TensorCoreOps.RoundToTf32(shared[k0 + bLane3]); b31 = TensorCoreOps.RoundToTf32(shared[k4 + bLane3]);
                }

                d = core.Mma(exchange, a00, a01, a02, a03, b00, b01, c000, c001, c002, c003); c000 = d.D0; c001 = d.D1; c002 = d.D2; c003 = d.D3;
                d = core.Mma(exchange, a00, a01, a02, a03, b10, b11, c010, c011, c012, c013); c010 = d.D0; c011 = d.D1; c012 = d.D2; c013 = d.D3;
                d = core.Mma(exchange, a00, a01, a02, a03, b20, b21, c020, c021, c022, c023); c020 = d.D0; c021 = d.D1; c022 = d.D2; c023 = d.D3;
                d = core.Mma(exchange, a00, a01, a02, a03, b30, b31, c030, c031, c032, c033); c030 = d.D0; c031 = d.D1; c032 = d.D2; c033 = d.D3;
                d = core.Mma(exchange, a10, a11, a12, a13, b00, b01, c100, c101, c102, c103); c100 = d.D0; c101 = d.D1; c102 = d.D2; c103 = d.D3;
                d = core.Mma(exchange, a10, a11, a12, a13, b10, b11, c110, c111, c112, c113); c110 = d.D0; c111 = d.D1; c112 = d.D2; c113 = d.D3;
                d = core.Mma(exchange, a10, a11, a12, a13, b20, b21, c120, c121, c122, c123); c120 = d.D0; c121 = d.D1; c122 = d.D2; c123 = d.D3;
                d = core.Mma(exchange, a10, a11, a12, a13, b30, b31, c130, c131, c132, c133); c130 = d.D0; c131 = d.D1; c132 = d.D2; c133 = d.D3;
                d = core.Mma(exchange, a20, a21, a22, a23, b00, b01, c200, c201, c202, c203); c200 = d.D0; c201 = d.D1; c202 = d.D2; c203 = d.D3;
                d = core.Mma(exchange, a20, a21, a22, a23, b10, b11, c210, c211, c212, c213); c210 = d.D0; c211 = d.D1; c212 = d.D2; c213 = d.D3;
                d = core.Mma(exchange, a20, a21, a22, a23, b20, b21, c220, c221, c222, c223); c220 = d.D0; c221 = d.D1; c222 = d.D2; c223 = d.D3;
                d = core.Mma(exchange, a20, a21, a22, a23, b30, b31, c230, c231, c232, c233); c230 = d.D0; c231 = d.D1; c232 = d.D2; c233 = d.D3;
                d = core.Mma(exchange, a30, a31, a32, a33, b00, b01, c300, c301, c302, c303); c300 = d.D0; c301 = d.D1; c302 = d.D2; c303 = d.D3;
                d = core.Mma(exchange, a30, a31, a32, a33, b10, b11, c310, c311, c312, c313); c310 = d.D0; c311 = d.D1; c312 = d.D2; c313 = d.D3;
                d = core.Mma(exchange, a30, a31, a32, a33, b20, b21, c320, c321, c322, c323); c320 = d.D0; c321 = d.D1; c322 = d.D2; c323 = d.D3;
                d = core.Mma(exchange, a30, a31, a32, a33, b30, b31, c330, c331, c332, c333); c330 = d.D0; c331 = d.D1; c332 = d.D2; c333 = d.D3;
                // </generated: fragments>
            }
        }

        TensorCoreOps.WaitGroup(0);
        int row = rowBase + warpRow + gr, col = colBase + warpCol + (2 * t);
        var target = new SplitTarget<TOut>(output, splitK, g.M, g.N);
        // <generated: epilogue>
        StorePair(target, g, split, row + 0, col + 0, c000, c001); StorePair(target, g, split, row + 8, col + 0, c002, c003);
        StorePair(target, g, split, row + 0, col + 8, c010, c011); StorePair(target, g, split, row + 8, col + 8, c012, c013);
        StorePair(target, g, split, row + 0, col + 16, c020, c021); StorePair(target, g, split, row + 8, col + 16, c022, c023);
        StorePair(target, g, split, row + 0, col + 24, c030, c031); StorePair(target, g, split, row + 8, col + 24, c032, c033);
        StorePair(target, g, split, row + 16, col + 0, c100, c101); StorePair(target, g, split, row + 24, col + 0, c102, c103);
        StorePair(target, g, split, row + 16, col + 8, c110, c111); StorePair(target, g, split, row + 24, col + 8, c112, c113);
        StorePair(target, g, split, row + 16, col + 16, c120, c121); StorePair(target, g, split, row + 24, col + 16, c122, c123);
        StorePair(target, g, split, row + 16, col + 24, c130, c131); StorePair(target, g, split, row + 24, col + 24, c132, c133);
        StorePair(target, g, split, row + 32, col + 0, c200, c201); StorePair(target, g, split, row + 40, col + 0, c202, c203);
        StorePair(target, g, split, row + 32, col + 8, c210, c211); StorePair(target, g, split, row + 40, col + 8, c212, c213);
        StorePair(target, g, split, row + 32, col + 16, c220, c221); StorePair(target, g, split, row + 40, col + 16, c222, c223);
        StorePair(target, g, split, row + 32, col + 24, c230, c231); StorePair(target, g, split, row + 40, col + 24, c232, c233);
        StorePair(target, g, split, row + 48, col + 0, c300, c301); StorePair(target, g, split, row + 56, col + 0, c302, c303);
        StorePair(target, g, split, row + 48, col + 8, c310, c311); StorePair(target, g, split, row + 56, col + 8, c312, c313);
        StorePair(target, g, split, row + 48, col + 16, c320, c321); StorePair(target, g, split, row + 56, col + 16, c322, c323);
        StorePair(target, g, split, row + 48, col + 24, c330, c331); StorePair(target, g, split, row + 56, col + 24, c332, c333);
        // </generated: epilogue>
        if (splitK.Splits > 1)
        {
            SplitKReduction.Finish(output, splitK, g, rowBase, colBase, bm, bn, shared.Cast<int>());
        }
    }

    /// <summary>
    /// Lane (g, t)'s base j (0 .. 3) into a stage of an operand whose warp tile starts at line <paramref name="warpLine"/>:
    /// fragment element (line warpLine + span i + 8 h + g, k kk + t + 4 u) is at a base plus a constant.
    /// Along k ([line][16]): base j = (warpLine + g) 16 + t + 4 (j ^ ((g / 2) % 4)) for the k chunk j = kk / 4 + u, the
    /// constant 256 i + 128 h (A, span 16) or 128 i (B, span 8).
    /// Along the lines ([k][lines]): A (span 16): base j = t lines + warpLine + g + 16 ((j / 2) ^ (t / 2)) + 8 ((j % 2) ^
    /// (t % 2)) for j = 2 (i % 2) + h, the constant (kk + 4 u) lines + 32 (i / 2); B (span 8): base j = t lines + warpLine
    /// + g + 8 (j ^ t) for j = i, the constant (kk + 4 u) lines. The XOR is the layout's swizzle seen from the lane.
    /// </summary>
    private static int FragmentBase(bool kMajor, int j, int warpLine, int g, int t, int lines, int warpLines)
    {
        if (kMajor)
        {
            return ((warpLine + g) * StageK) + t + ((j ^ ((g >> 1) & 3)) << 2);
        }

        int swizzled = warpLines == 64 ? (16 * ((j >> 1) ^ (t >> 1))) + (8 * ((j & 1) ^ (t & 1))) : 8 * (j ^ t);
        return (t * lines) + warpLine + g + swizzled;
    }

    /// <summary>Stores accumulators (row, col) and (row, col + 1) where inside C.</summary>
    private static void StorePair<TOut>(TOut output, GemmGrid g, int split, int row, int col, float s0, float s1)
        where TOut : struct, IGemmOut
    {
        if (row < g.M)
        {
            if (col < g.N)
            {
                output.Store(row, col, split, s0);
            }

            if (col + 1 < g.N)
            {
                output.Store(row, col + 1, split, s1);
            }
        }
    }
}

/// <summary>
/// Where one thread of the tensor-core kernel copies an operand's stages from (BL lines by 16 k; BL is a power of two
/// dividing the group's thread count or a multiple of it):
/// <list type="bullet">
/// <item>along k, 4 bytes: a fixed k (tid % 16), lines tid / 16 + j T / 16;</item>
/// <item>along k, 16 bytes: fixed k = 4 (tid % 4), lines tid / 4 + j T / 4;</item>
/// <item>along the lines, 4 bytes: a fixed line (tid % BL), k = tid / BL + j T / BL;</item>
/// <item>along the lines, 16 bytes: fixed lines 4 (tid % (BL / 4)) .. + 3, k = tid / (BL / 4) + j 4 T / BL.</item>
/// </list>
/// The fixed coordinate is decomposed once; the other steps by a constant, and K by 16 a stage.
/// </summary>
internal struct TensorLoader
{
    /// <summary>The first line's position.</summary>
    public GatherPos Line;

    /// <summary>The first k's position in the next stage.</summary>
    public GatherPos K;

    /// <summary>The first line.</summary>
    public int LineIndex;

    /// <summary>The first k of the next stage.</summary>
    public int KIndex;

    /// <summary>Lines in the operand (M or N).</summary>
    public int LineCount;

    /// <summary>Lines of a tile (BL).</summary>
    public int Lines;

    /// <summary>The operand's k is contiguous: shared layout [line][16 k]; else [k][BL lines].</summary>
    public bool KMajor;

    /// <summary>Copies of 16 bytes (4 elements along the contiguous axis) rather than 4.</summary>
    public bool Vector;

    /// <summary>Copies a thread makes per stage.</summary>
    public int Count;

    /// <summary>The step between a thread's copies (of lines when KMajor, else of k).</summary>
    public GatherStep Inner;

    /// <summary>Lines or k between a thread's copies.</summary>
    public int InnerAmount;

    /// <summary>16 along k: one stage.</summary>
    public GatherStep Stage;

    /// <summary>The first copy's line within the tile.</summary>
    public int TileLine;

    /// <summary>The first copy's k within the stage.</summary>
    public int TileK;

    public static TensorLoader Of<TOp>(TOp op, bool kMajor, bool vector, int lineBase, int lineCount, int kBegin, int tid, int lines, int threads)
        where TOp : struct, IGemmOperand
    {
        int line, k, amount, count;
        if (kMajor)
        {
            int perLine = vector ? 4 : 16;
            line = tid / perLine;
            k = (tid % perLine) * (vector ? 4 : 1);
            amount = threads / perLine;
            count = lines * perLine / threads;
        }
        else
        {
            int perK = vector ? lines / 4 : lines;
            line = (tid % perK) * (vector ? 4 : 1);
            k = tid / perK;
            amount = threads / perK;
            count = GemmTensorCoreKernel.StageK * perK / threads;
        }

        return new TensorLoader
        {
            Line = op.Lines.At(lineBase + line),
            K = op.Ks.At(kBegin + k),
            LineIndex = lineBase + line,
            KIndex = kBegin + k,
            LineCount = lineCount,
            Lines = lines,
            KMajor = kMajor,
            Vector = vector,
            Count = count,
            Inner = kMajor ? op.Lines.Step(amount) : op.Ks.Step(amount),
            InnerAmount = amount,
            Stage = op.Ks.Step(GemmTensorCoreKernel.StageK),
            TileLine = line,
            TileK = k,
        };
    }

    /// <summary>Issues this thread's copies of the next stage into the stage at <paramref name="stageFirst"/>; returns the loader for the stage after.</summary>
    public readonly TensorLoader LoadStage<TOp>(TOp op, ArrayView<float> shared, ArrayView<GemmFloat4> shared4, int stageFirst, int kEnd)
        where TOp : struct, IGemmOperand
    {
        var data4 = op.Data.Cast<GemmFloat4>();
        var line = Line;
        var k = K;
        int lineIndex = LineIndex, kIndex = KIndex, tileLine = TileLine, tileK = TileK;
        for (int j = 0; j < Count; j++)
        {
            if (Vector)
            {
                // 16 bytes along the contiguous axis, the bytes past the operand's edge zero-filled.
                int bytes = KMajor
                    ? (lineIndex < LineCount ? Math.Min(Math.Max(kEnd - kIndex, 0), 4) * 4 : 0)
                    : (kIndex < kEnd ? Math.Min(Math.Max(LineCount - lineIndex, 0), 4) * 4 : 0);
                int chunk = KMajor
                    ? (tileLine * 4) + ((tileK >> 2) ^ ((tileLine >> 1) & 3))
                    : (tileK * (Lines >> 2)) + ((tileLine >> 2) ^ ((tileK & 3) << 1));
                int source = bytes > 0 ? op.Index(line, k) >> 2 : 0;
                TensorCoreOps.CopyAsync16(ref shared4[(stageFirst >> 2) + chunk], ref data4[source], bytes);
            }
            else
            {
                bool inside = lineIndex < LineCount && kIndex < kEnd && op.Inside(line, k);
                int at = KMajor
                    ? (tileLine * GemmTensorCoreKernel.StageK) + (((tileK >> 2) ^ ((tileLine >> 1) & 3)) << 2) + (tileK & 3)
                    : (tileK * Lines) + (((tileLine >> 2) ^ ((tileK & 3) << 1)) << 2) + (tileLine & 3);
                TensorCoreOps.CopyAsync4(ref shared[stageFirst + at], ref op.Data[inside ? op.Index(line, k) : 0], inside ? 4 : 0);
            }

            if (KMajor)
            {
                line = op.Lines.Advance(line, Inner);
                lineIndex += InnerAmount;
                tileLine += InnerAmount;
            }
            else
            {
                k = op.Ks.Advance(k, Inner);
                kIndex += InnerAmount;
                tileK += InnerAmount;
            }
        }

        var next = this;
        next.K = op.Ks.Advance(K, Stage);
        next.KIndex += GemmTensorCoreKernel.StageK;
        return next;
    }
}
