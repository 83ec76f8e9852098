using System.Text;
using System.Text.RegularExpressions;
using FlashKMeans.Cuda;
using FlashKMeans.Cuda.Native;

namespace FlashKMeans.Tests.Cuda;

/// <summary>The embedded PTX, module selection and argument handling; no GPU needed.</summary>
[TestClass]
public sealed class PtxResourceTests
{
    /// <summary>Every kernel the backend launches, by file. Kept by hand so that a renamed kernel fails here, not on a GPU.</summary>
    private static readonly Dictionary<string, string[]> Kernels = new()
    {
        ["flash_assign_mma"] = ["flash_assign_f16", "flash_assign_bf16", "flash_assign_tf32"],
        ["flash_assign_ws"] = ["pack_centroid_tiles", "flash_assign_ws1_f16", "flash_assign_ws1_bf16", "flash_assign_ws1_tf32",
            "flash_assign_ws2_f16", "flash_assign_ws2_bf16", "flash_assign_ws2_tf32",
            "flash_assign_ws4_f16", "flash_assign_ws4_bf16", "flash_assign_ws4_tf32",
            "flash_assign_ws8_f16", "flash_assign_ws8_bf16", "flash_assign_ws8_tf32"],
        ["flash_assign_wgmma"] = ["flash_assign_wgmma_f16", "flash_assign_wgmma_bf16", "flash_assign_wgmma_tf32",
            "flash_assign_wgmma_rs1_f16", "flash_assign_wgmma_rs1_bf16", "flash_assign_wgmma_rs1_tf32",
            "flash_assign_wgmma_rs2_f16", "flash_assign_wgmma_rs2_bf16", "flash_assign_wgmma_rs2_tf32"],
        ["flash_assign_exact"] = ["flash_assign_exact_f32", "flash_assign_exact_f16", "flash_assign_exact_bf16",
            "flash_assign_exact_small_f32", "flash_assign_exact_small_f16", "flash_assign_exact_small_bf16"],
        ["all_distances"] = ["all_distances_f32", "all_distances_f16", "all_distances_bf16"],
        ["row_pack"] = ["pack_rows_f32", "pack_rows_f16", "pack_rows_bf16", "pack_rows_tf32", "row_norms_f32",
            "row_norms_f16", "row_norms_bf16", "max_abs_f32", "max_abs_f16", "max_abs_bf16", "first_nonfinite_row"],
        ["label_sort"] = ["label_histogram", "exclusive_scan", "scatter_indices"],
        ["moved_rows"] = ["count_moved_rows", "scatter_moved_rows"],
        ["centroid_update"] = ["segment_sum_f32", "segment_sum_f16", "segment_sum_bf16", "segment_sum_fixed_f32",
            "segment_sum_fixed_f16", "segment_sum_fixed_bf16", "segment_sum_moved_f32", "segment_sum_moved_f16",
            "segment_sum_moved_bf16", "cluster_weights", "cluster_weights_fixed",
            "finalize_centroids", "finalize_centroids_fixed", "finalize_running_mean"],
        ["segmented_sum"] = ["segmented_sum_partial", "segmented_sum_final", "candidate_potential_partial"],
        ["label_changes"] = ["gather_rows_f32", "gather_rows_f16", "gather_rows_bf16"],
        ["assign_l1"] = ["assign_l1_f32", "distances_l1_f32"],
        ["flash_topk"] = [.. new[] { 4, 8, 16, 32 }.SelectMany(list => new[] { "f16", "bf16", "tf32" }.Select(type => $"flash_topk{list}_{type}"))],
        ["flash_topk_ws"] = [.. TopKWarpSpecialisedEntries().Select(e => e.Name)],
    };

    private static IEnumerable<(string Name, int Chunks, int List)> TopKWarpSpecialisedEntries() =>
        from chunks in new[] { 1, 2, 4 }
        from list in CudaSession.TopKWarpSpecialisedLists(chunks)
        from type in new[] { "f16", "bf16", "tf32" }
        select ($"flash_topk_ws{chunks}_{list}_{type}", chunks, list);

    [TestMethod]
    public void Every_kernel_file_has_sm80_ptx_embedded_with_every_entry()
    {
        var resources = CudaKernels.AvailableResources();
        CollectionAssert.AreEquivalent(Kernels.Keys.ToArray(), CudaKernels.Files);
        foreach (var (file, entries) in Kernels)
        {
            // wgmma, bulk copies and transaction-counted mbarriers exist only as Hopper-specific PTX.
            string arch = CudaKernels.IsHopperOnly(file) ? "sm90a" : "sm80";
            string name = CudaKernels.ResourcePrefix + file + "." + arch + ".ptx";
            CollectionAssert.Contains(resources.ToArray(), name);
            string ptx = Encoding.ASCII.GetString(CudaKernels.ReadResource(name));
            StringAssert.Contains(ptx, ".target " + arch.Replace("sm", "sm_", StringComparison.Ordinal));
            Assert.IsTrue(Regex.IsMatch(ptx, @"^\.version \d+\.\d+", RegexOptions.Multiline), $"{name} has no .version line");
            foreach (string entry in entries)
                Assert.IsTrue(Regex.IsMatch(ptx, @"\.entry " + entry + @"\("), $"{name} lacks .entry {entry}");
        }
    }

    [TestMethod]
    [DataRow(1)]
    [DataRow(2)]
    [DataRow(4)]
    public void Warp_specialised_launch_shape_matches_the_kernels(int chunks)
    {
        // The host launches 128 threads per consumer warpgroup plus the producer warp, and a storer warp per warpgroup
        // for the plain entries, with shared memory for the stages, the row tile and the plain entries' slots: the
        // kernels' launch bounds must agree, and each must fit one block per SM.
        string ptx = Encoding.ASCII.GetString(CudaKernels.ReadResource(CudaKernels.ResourcePrefix + "flash_assign_ws.sm90a.ptx"));
        int groups = CudaSession.WarpSpecialisedShape(chunks).Groups;
        foreach (string type in new[] { "f16", "bf16", "tf32" })
        {
            string entry = "flash_assign_ws" + chunks + "_" + type;
            Assert.AreEqual(CudaSession.WarpSpecialisedThreads(chunks), MaxThreads(ptx, entry), entry);
        }
        Assert.IsTrue(CudaSession.WarpSpecialisedSharedBytes(chunks) <= 232448, "over Hopper's 227 KiB per block");
        Assert.IsTrue(CudaSession.WarpSpecialisedThreads(chunks) >= 128 * groups + 32, "fewer threads than the consumers and the producer");
        Assert.AreEqual(chunks, CudaSession.WarpSpecialisedChunks(chunks * 128));
        Assert.AreEqual(chunks == 4 ? CudaSession.SharedRowChunks : chunks == 2 ? 4 : 2, CudaSession.WarpSpecialisedChunks(chunks * 128 + 16));
    }

    /// <summary>The threads per block <paramref name="entry"/> declares (.maxntid), its parameters starting as <paramref name="parameters"/> says.</summary>
    private static int MaxThreads(string ptx, string entry, string parameters = "")
    {
        var match = Regex.Match(ptx, @"\.entry " + entry + @"\(" + parameters + @"[^{]*?\.maxntid (\d+), 1, 1", RegexOptions.Singleline);
        Assert.IsTrue(match.Success, $"{entry} has no .maxntid, or its parameters do not start as expected");
        return int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    [TestMethod]
    public void Top_k_warp_specialised_launch_shape_matches_the_kernels()
    {
        // The host launches 128 threads per consumer warpgroup plus the producer warp (no storer warps: the consumers
        // store the lists), with the stages and the row tile in shared memory: the kernels' launch bounds must agree,
        // and each must fit one block per SM.
        string ptx = Encoding.ASCII.GetString(CudaKernels.ReadResource(CudaKernels.ResourcePrefix + "flash_topk_ws.sm90a.ptx"));
        foreach (var (name, chunks, list) in TopKWarpSpecialisedEntries())
        {
            Assert.AreEqual(CudaSession.TopKWarpSpecialisedThreads(chunks, list), MaxThreads(ptx, name), name);
            Assert.IsTrue(CudaSession.TopKWarpSpecialisedSharedBytes(chunks, list) <= 232448, $"{name}: over Hopper's 227 KiB per block");
        }
    }

    [TestMethod]
    public void Shared_row_launch_shape_matches_the_kernels()
    {
        // Rows of 513-1024 bytes stay in shared memory: two consumer warpgroups, a centroid and a row producer warp, and a
        // storer warp per warpgroup.
        const int chunks = CudaSession.SharedRowChunks;
        string ptx = Encoding.ASCII.GetString(CudaKernels.ReadResource(CudaKernels.ResourcePrefix + "flash_assign_ws.sm90a.ptx"));
        foreach (string type in new[] { "f16", "bf16", "tf32" })
        {
            string entry = "flash_assign_ws" + chunks + "_" + type;
            // A 128-byte tensor map first.
            Assert.AreEqual(CudaSession.WarpSpecialisedThreads(chunks), MaxThreads(ptx, entry, @"\s*\.param \.align 64 \.b8 \w+\[128\]"), entry);
        }
        Assert.IsTrue(CudaSession.WarpSpecialisedSharedBytes(chunks) <= 232448, "over Hopper's 227 KiB per block");
        Assert.AreEqual(chunks, CudaSession.WarpSpecialisedChunks(513));
        Assert.AreEqual(chunks, CudaSession.WarpSpecialisedChunks(1024));
        Assert.AreEqual(0, CudaSession.WarpSpecialisedChunks(1040));
    }

    [TestMethod]
    public void Kernel_arguments_place_a_tensor_map_at_64_bytes_and_keep_the_others_in_order()
    {
        var map = default(CuTensorMap);
        unsafe
        {
            byte* bytes = (byte*)&map;
            for (int i = 0; i < CuTensorMap.Bytes; i++)
                bytes[i] = (byte)(i + 1);
        }
        var args = new KernelArgs().Add(7).AddTensorMap(map).Add(9UL).Concat(new KernelArgs().Add(11).Add(12L));
        Assert.AreEqual(5, args.Count);
        unsafe
        {
            Assert.AreEqual(0, args.Starts[0]);
            Assert.AreEqual(8, args.Starts[1], "the map starts at the next 64-byte boundary");
            Assert.AreEqual(24, args.Starts[2]);
            Assert.AreEqual(27, args.SlotCount);
            Assert.AreEqual(7UL, args.Slots[0]);
            byte* slots = (byte*)args.Slots;
            for (int i = 0; i < CuTensorMap.Bytes; i++)
                Assert.AreEqual((byte)(i + 1), slots[64 + i]);
            Assert.AreEqual(9UL, args.Slots[24]);
            Assert.AreEqual(11UL, args.Slots[25]);
            Assert.AreEqual(12UL, args.Slots[args.Starts[4]]);
        }
        var withMap = new KernelArgs().AddTensorMap(map);
        Assert.ThrowsExactly<ArgumentException>(() => new KernelArgs().Concat(withMap));
        Assert.ThrowsExactly<ArgumentException>(() => CuTensorMap.SwizzledRows(0x1008, 10, 1000, 1000, 128), "an unaligned address is refused before the driver");
        Assert.ThrowsExactly<ArgumentException>(() => CuTensorMap.SwizzledRows(0x1000, 10, 1000, 1000, 128), "a pitch that is not a multiple of 16 bytes");
    }

    [TestMethod]
    public void A_ptx_folder_named_by_the_environment_replaces_the_embedded_file_it_holds()
    {
        string directory = Path.Combine(Path.GetTempPath(), "fkm-ptx-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        try
        {
            string replaced = CudaKernels.ResourcePrefix + "row_pack.sm80.ptx";
            string kept = CudaKernels.ResourcePrefix + "label_sort.sm80.ptx";
            File.WriteAllText(Path.Combine(directory, "row_pack.sm80.ptx"), "// replaced");
            Assert.AreEqual("// replaced", Encoding.ASCII.GetString(CudaKernels.ReadPtx(replaced, directory)));
            CollectionAssert.AreEqual(CudaKernels.ReadResource(kept), CudaKernels.ReadPtx(kept, directory));
            CollectionAssert.AreEqual(CudaKernels.ReadResource(replaced), CudaKernels.ReadPtx(replaced, null));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestMethod]
    public void Hopper_modules_a_driver_cannot_compile_are_left_out_and_required_ones_fail()
    {
        // nvcc 13 emits PTX ISA 9.0 for the sm90a files; a CUDA 12 driver answers UNSUPPORTED_PTX_VERSION. Those
        // files are optional (the session falls back to mma.sync); every other failure must still surface.
        static object Reject(int code, string name) => throw new CudaException(code, name, name);
        var loaded = new object();
        Assert.AreSame(loaded, CudaKernels.LoadOptional<object>("flash_assign_ws", "r", _ => loaded, out string? none));
        Assert.IsNull(none);
        foreach (var (code, name) in new[] { ((int)CuResult.UnsupportedPtxVersion, "CUDA_ERROR_UNSUPPORTED_PTX_VERSION"), ((int)CuResult.InvalidPtx, "CUDA_ERROR_INVALID_PTX") })
        {
            foreach (string file in new[] { "flash_assign_ws", "flash_assign_wgmma" })
            {
                Assert.IsNull(CudaKernels.LoadOptional<object>(file, file + ".sm90a.ptx", _ => Reject(code, name), out string? reason));
                StringAssert.Contains(reason, file + ".sm90a.ptx");
                StringAssert.Contains(reason, name);
            }
            Assert.ThrowsExactly<CudaException>(() => CudaKernels.LoadOptional<object>("label_sort", "r", _ => Reject(code, name), out _));
        }
        Assert.ThrowsExactly<CudaException>(() => CudaKernels.LoadOptional<object>("flash_assign_ws", "r", _ => Reject(2, "CUDA_ERROR_OUT_OF_MEMORY"), out _));
    }

    [TestMethod]
    public void Update_launch_shapes_match_the_kernels()
    {
        // segment_sum_*: 256 threads, two blocks per SM from sm_80 on (three 12 KiB stages per warp), which
        // the host's shared memory size must allow on Hopper's 227 KiB.
        string ptx = Encoding.ASCII.GetString(CudaKernels.ReadResource(CudaKernels.ResourcePrefix + "centroid_update.sm80.ptx"));
        var match = Regex.Match(ptx, @"\.entry segment_sum_f16\([^{]*?\.maxntid (\d+), 1, 1\s*\.minnctapersm (\d+)", RegexOptions.Singleline);
        Assert.IsTrue(match.Success, "segment_sum_f16 has no launch bounds");
        Assert.AreEqual("256", match.Groups[1].Value);
        int blocks = int.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.IsTrue(blocks * (CudaSession.SegmentSumSharedBytes(80) + 1024) <= 233472, "the promised blocks per SM do not fit");
        // Before sm_80 the same kernels run on Turing too, whose blocks may have 64 KiB; from sm_80 on, on sm_86 and sm_89,
        // whose blocks may have 99 KiB.
        Assert.IsTrue(CudaSession.SegmentSumSharedBytes(75) <= 65536, "over Turing's 64 KiB per block");
        Assert.IsTrue(CudaSession.SegmentSumSharedBytes(86) <= 101376, "over sm_86's 99 KiB per block");

        // scatter_indices takes shared memory only as a whole layout that fits the device: never more than a block may
        // have, at least its 2k counters (the smallest layout it runs with) whenever those fit, none (the global-memory
        // path) when they do not, and never less on a larger device.
        foreach (int device in new[] { 49152, 101376, 232448 })
            foreach (int k in new[] { 1, 100, 1024, 4096, 8192, 20000, 29056, 40000, 100000 })
            {
                int bytes = CudaSession.ScatterSharedBytes(k, device);
                Assert.IsTrue(bytes <= device, $"K = {k}: {bytes} bytes on a device of {device}");
                Assert.AreEqual(0, bytes % 4, $"K = {k}: not whole ints");
                if (8L * k <= device)
                    Assert.IsTrue(bytes >= 8L * k, $"K = {k}: {bytes} bytes, less than its counters, though they fit in {device}");
                else
                    Assert.AreEqual(0, bytes, $"K = {k}: its counters do not fit in {device}");
                if (device < 232448)
                    Assert.IsTrue(CudaSession.ScatterSharedBytes(k, 232448) >= bytes, $"K = {k}: a larger device gives less");
            }
    }

    [TestMethod]
    public void Each_ptx_targets_the_architecture_in_its_name()
    {
        foreach (string name in CudaKernels.AvailableResources())
        {
            var match = Regex.Match(name, @"\.sm(\d+a?)\.ptx$");
            Assert.IsTrue(match.Success, name);
            string ptx = Encoding.ASCII.GetString(CudaKernels.ReadResource(name));
            StringAssert.Contains(ptx, ".target sm_" + match.Groups[1].Value, name);
        }
    }

    [TestMethod]
    public void Sm70_ptx_uses_no_sm80_instructions()
    {
        // The driver would reject these at JIT time on Volta and Turing, taking the whole backend down.
        foreach (string name in CudaKernels.AvailableResources().Where(n => n.EndsWith(".sm70.ptx", StringComparison.Ordinal)))
        {
            string ptx = Encoding.ASCII.GetString(CudaKernels.ReadResource(name));
            foreach (string instruction in new[] { "cp.async", "ldmatrix", "mma.sync", "wgmma" })
                Assert.IsFalse(ptx.Contains(instruction, StringComparison.Ordinal), $"{name} contains {instruction}");
        }
    }

    [TestMethod]
    public void Selection_takes_the_highest_architecture_not_above_the_device()
    {
        string[] available = ["FlashKMeans.Cuda.Kernels.k.sm70.ptx", "FlashKMeans.Cuda.Kernels.k.sm80.ptx", "FlashKMeans.Cuda.Kernels.other.sm90.ptx"];
        Assert.AreEqual("FlashKMeans.Cuda.Kernels.k.sm80.ptx", CudaKernels.SelectPtx("k", 90, available));
        Assert.AreEqual("FlashKMeans.Cuda.Kernels.k.sm80.ptx", CudaKernels.SelectPtx("k", 86, available));
        Assert.AreEqual("FlashKMeans.Cuda.Kernels.k.sm70.ptx", CudaKernels.SelectPtx("k", 75, available));
        Assert.IsNull(CudaKernels.SelectPtx("k", 61, available));
        Assert.IsNull(CudaKernels.SelectPtx("missing", 90, available));
        string[] hopper = ["FlashKMeans.Cuda.Kernels.w.sm80.ptx", "FlashKMeans.Cuda.Kernels.w.sm90a.ptx"];
        Assert.AreEqual("FlashKMeans.Cuda.Kernels.w.sm90a.ptx", CudaKernels.SelectPtx("w", 90, hopper));
        Assert.AreEqual("FlashKMeans.Cuda.Kernels.w.sm80.ptx", CudaKernels.SelectPtx("w", 100, hopper), "sm_90a code does not run on later chips");
        Assert.AreEqual("FlashKMeans.Cuda.Kernels.w.sm80.ptx", CudaKernels.SelectPtx("w", 89, hopper));
    }

    [TestMethod]
    public void Tensor_core_kernels_need_sm80_and_the_rest_run_from_sm70()
    {
        var resources = CudaKernels.AvailableResources();
        Assert.IsNull(CudaKernels.SelectPtx("flash_assign_mma", 75, resources));
        Assert.IsNull(CudaKernels.SelectPtx("flash_topk", 75, resources));
        Assert.IsNull(CudaKernels.SelectPtx("flash_assign_wgmma", 80, resources));
        Assert.IsNotNull(CudaKernels.SelectPtx("flash_assign_wgmma", 90, resources));
        Assert.IsNull(CudaKernels.SelectPtx("flash_assign_ws", 89, resources));
        Assert.IsNotNull(CudaKernels.SelectPtx("flash_assign_ws", 90, resources));
        foreach (string file in CudaKernels.Files.Where(f => !CudaKernels.IsTensorCoreOnly(f) && !CudaKernels.IsHopperOnly(f)))
            Assert.IsNotNull(CudaKernels.SelectPtx(file, 70, resources), file);
    }

    [TestMethod]
    [DataRow(ComputePrecision.Float32, 1, 4)]
    [DataRow(ComputePrecision.Float32, 5, 8)]
    [DataRow(ComputePrecision.TensorFloat32, 128, 128)]
    [DataRow(ComputePrecision.Float16, 1, 8)]
    [DataRow(ComputePrecision.Float16, 200, 200)]
    [DataRow(ComputePrecision.BFloat16, 201, 208)]
    public void Row_pitch_keeps_rows_16_byte_aligned(ComputePrecision precision, int d, int pitch)
    {
        var p = new CudaPrecision(precision);
        Assert.AreEqual(pitch, p.Pitch(d));
        Assert.AreEqual(0, p.Pitch(d) * p.ElementBytes % 16);
    }

    [TestMethod]
    public void Small_dimensions_and_exact_precision_take_the_exact_kernel()
    {
        Assert.IsFalse(new CudaPrecision(ComputePrecision.Float32).UsesTensorCores(128));
        Assert.IsFalse(new CudaPrecision(ComputePrecision.Float16).UsesTensorCores(15));
        Assert.IsTrue(new CudaPrecision(ComputePrecision.Float16).UsesTensorCores(16));
        Assert.AreEqual("pack_rows_tf32", new CudaPrecision(ComputePrecision.TensorFloat32).PackKernel);
    }

    [TestMethod]
    [DataRow(5.0, 1_000_000L)]
    [DataRow(1e-3, 10L)]
    [DataRow(1e30, 1L << 30)]
    [DataRow(0.0, 100L)]
    public void Fixed_point_scale_cannot_overflow(double maxMagnitude, long n)
    {
        float scale = CudaDataBinding.FixedPointScale(maxMagnitude, n);
        Assert.IsTrue(scale > 0 && float.IsFinite(scale));
        Assert.AreEqual(0, BitConverter.SingleToInt32Bits(scale) & 0x7FFFFF, "scale must be a power of two");
        Assert.IsTrue(maxMagnitude * n * scale < Math.Pow(2, 62));
    }

    [TestMethod]
    public unsafe void Kernel_arguments_occupy_one_slot_each_in_order()
    {
        var args = new KernelArgs().Add(0x1122334455667788UL).Add(-3).Add(2.5f).Add(7L).Add(0.25);
        Assert.AreEqual(5, args.Count);
        Assert.AreEqual(0x1122334455667788UL, args.Slots[0]);
        Assert.AreEqual(unchecked((uint)-3), (uint)args.Slots[1]);
        Assert.AreEqual(0UL, args.Slots[1] >> 32, "the rest of a 4-byte slot is zero");
        Assert.AreEqual(2.5f, BitConverter.UInt32BitsToSingle((uint)args.Slots[2]));
        Assert.AreEqual(7UL, args.Slots[3]);
        Assert.AreEqual(0.25, BitConverter.UInt64BitsToDouble(args.Slots[4]));
    }

    [TestMethod]
    public unsafe void Adding_an_argument_returns_a_longer_list_and_leaves_the_original_alone()
    {
        // Shared prefixes (one list, two different tails) are how the launches branch on a mode.
        var prefix = new KernelArgs().Add(1).Add(2);
        var fixedPoint = prefix.Add(3.0).Add(4.0).Add(5);
        var plain = prefix.Add(6);
        Assert.AreEqual(2, prefix.Count);
        Assert.AreEqual(5, fixedPoint.Count);
        Assert.AreEqual(3, plain.Count);
        Assert.AreEqual(5UL, fixedPoint.Slots[4]);
        Assert.AreEqual(6UL, plain.Slots[2]);
        Assert.AreEqual(2UL, plain.Slots[1]);
    }

    [TestMethod]
    public unsafe void Concatenated_arguments_keep_both_lists_in_order()
    {
        var head = new KernelArgs().Add(1).Add(2.5);
        var tail = new KernelArgs().Add(7L).Add(-1);
        var both = head.Concat(tail);
        Assert.AreEqual(4, both.Count);
        Assert.AreEqual(2, head.Count, "the receiver is left alone");
        Assert.AreEqual(1UL, both.Slots[0]);
        Assert.AreEqual(2.5, BitConverter.UInt64BitsToDouble(both.Slots[1]));
        Assert.AreEqual(7UL, both.Slots[2]);
        Assert.AreEqual(uint.MaxValue, (uint)both.Slots[3]);
    }

    [TestMethod]
    public void Too_many_kernel_arguments_are_rejected()
    {
        var args = new KernelArgs();
        for (int i = 0; i < KernelArgs.Capacity; i++)
            args = args.Add(i);
        Assert.ThrowsExactly<InvalidOperationException>(() => args.Add(1));
        Assert.ThrowsExactly<InvalidOperationException>(() => new KernelArgs().Add(1).Concat(args));
    }

    [TestMethod]
    public void Only_a_step_after_one_that_moved_few_rows_is_incremental()
    {
        Assert.IsTrue(IncrementalUpdate.Suits(0, 1000));
        Assert.IsTrue(IncrementalUpdate.Suits(600, 1000));
        Assert.IsFalse(IncrementalUpdate.Suits(601, 1000), "past 60% of the rows the full update is cheaper");
        Assert.IsFalse(IncrementalUpdate.Suits(long.MaxValue, 1000), "before any step");
    }

    [TestMethod]
    public void Error_names_come_from_the_driver_or_fall_back_to_the_number()
    {
        // The driver library may be installed without a GPU (then it names errors) or be absent (CI).
        string name = CudaCheck.ErrorName(CuResult.OutOfMemory);
        Assert.IsTrue(name == "CUDA_ERROR_OUT_OF_MEMORY" || name == "CUresult 2", name);
    }
}
