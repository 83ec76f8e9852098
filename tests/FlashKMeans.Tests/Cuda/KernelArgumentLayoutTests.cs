using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using FlashKMeans.Cuda;
using FlashKMeans.Cuda.Native;

namespace FlashKMeans.Tests.Cuda;

/// <summary>
/// A struct a kernel takes by value is declared in CUDA C and mirrored in C#. The CUDA compiler's layout is in the PTX we
/// ship: the parameter's size in its declaration, and each field's offset in the loads that read it. The mirror must
/// match both, in every PTX of the kernel, or the kernel would read one field where the host wrote another. No GPU needed.
/// </summary>
[TestClass]
public sealed partial class KernelArgumentLayoutTests
{
    [TestMethod]
    [DataRow("finalize_centroids", 3)]
    [DataRow("finalize_centroids_fixed", 5)]
    [DataRow("finalize_running_mean", 8)]
    public void The_finalize_target_matches_the_compilers_layout(string kernel, int parameter)
    {
        AssertMirrors<FinalizeTargetArgs>("centroid_update", kernel, parameter);
    }

    [TestMethod]
    public void A_struct_argument_fills_consecutive_slots_in_its_own_byte_order()
    {
        var target = new FinalizeTargetArgs { Centroids = new(0x1111_2222_3333_4444), Clusters = 7, D = 9, TileChunks = -3 };
        var args = new KernelArgs().Add(5UL).AddStruct(target).Add(6);
        Assert.AreEqual(3, args.Count);
        Assert.AreEqual(1 + Unsafe.SizeOf<FinalizeTargetArgs>() / 8 + 1, args.SlotCount);
        var bytes = new byte[Unsafe.SizeOf<FinalizeTargetArgs>()];
        unsafe
        {
            for (int i = 0; i < bytes.Length / 8; i++)
                BitConverter.TryWriteBytes(bytes.AsSpan(8 * i), args.Slots[1 + i]);
            Assert.AreEqual(5UL, args.Slots[0]);
            Assert.AreEqual(6UL, args.Slots[args.SlotCount - 1]);
        }
        Assert.AreEqual(0x1111_2222_3333_4444UL, BitConverter.ToUInt64(bytes, Offset<FinalizeTargetArgs>(nameof(FinalizeTargetArgs.Centroids))));
        Assert.AreEqual(7, BitConverter.ToInt32(bytes, Offset<FinalizeTargetArgs>(nameof(FinalizeTargetArgs.Clusters))));
        Assert.AreEqual(9, BitConverter.ToInt32(bytes, Offset<FinalizeTargetArgs>(nameof(FinalizeTargetArgs.D))));
        Assert.AreEqual(-3, BitConverter.ToInt32(bytes, Offset<FinalizeTargetArgs>(nameof(FinalizeTargetArgs.TileChunks))));
    }

    [TestMethod]
    public void A_struct_that_does_not_fill_whole_slots_is_refused()
    {
        Assert.AreEqual(12, Unsafe.SizeOf<ThreeInts>());
        Assert.ThrowsExactly<ArgumentException>(() => new KernelArgs().AddStruct(new ThreeInts()));
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct ThreeInts
    {
        public int A, B, C;
    }

    /// <summary>
    /// Parameter <paramref name="parameter"/> of <paramref name="kernel"/>, in every PTX of <paramref name="file"/>, has
    /// T's size, and the offsets its loads read are exactly T's fields' (every field is read somewhere).
    /// </summary>
    private static void AssertMirrors<T>(string file, string kernel, int parameter) where T : unmanaged
    {
        var fields = typeof(T).GetFields(BindingFlags.Public | BindingFlags.Instance)
            .Select(f => (f.Name, Offset: f.GetCustomAttribute<FieldOffsetAttribute>()!.Value, Size: FieldSize(f.FieldType)))
            .OrderBy(f => f.Offset).ToList();
        var resources = CudaKernels.AvailableResources().Where(r => r.StartsWith(CudaKernels.ResourcePrefix + file + ".", StringComparison.Ordinal)).ToList();
        Assert.IsNotEmpty(resources, $"no PTX of {file}");
        foreach (string resource in resources)
        {
            string ptx = Encoding.ASCII.GetString(CudaKernels.ReadResource(resource));
            string name = $"{kernel}_param_{parameter}";
            var declaration = Regex.Match(ptx, $@"\.param \.align (\d+) \.b8 {name}\[(\d+)\]");
            Assert.IsTrue(declaration.Success, $"{resource}: {kernel} takes no struct as parameter {parameter}");
            Assert.AreEqual(Unsafe.SizeOf<T>(), int.Parse(declaration.Groups[2].Value), $"{resource}: the size of {name}");
            Assert.IsTrue(int.Parse(declaration.Groups[1].Value) <= 8, $"{resource}: {name} is aligned beyond a slot");

            // ld.param[.v2|.v4].<type><bits> ..., [name(+offset)]: each element of a vector load is one field, read at its width.
            var read = new SortedDictionary<int, int>();
            foreach (Match load in ParamLoad().Matches(ptx).Where(m => m.Groups["name"].Value == name))
            {
                int start = load.Groups["offset"].Success ? int.Parse(load.Groups["offset"].Value) : 0;
                int lanes = load.Groups["vector"].Success ? int.Parse(load.Groups["vector"].Value) : 1;
                int bytes = int.Parse(load.Groups["bits"].Value) / 8;
                for (int lane = 0; lane < lanes; lane++)
                    read[start + lane * bytes] = bytes;
            }
            CollectionAssert.AreEqual(fields.Select(f => f.Offset).ToArray(), read.Keys.ToArray(),
                $"{resource}: {kernel} reads {name} at [{string.Join(", ", read.Keys)}]; {typeof(T).Name} has fields at " +
                string.Join(", ", fields.Select(f => $"{f.Name} {f.Offset}")));
            foreach (var field in fields)
                Assert.AreEqual(field.Size, read[field.Offset], $"{resource}: {kernel} reads {field.Name} as another width");
        }
    }

    private static int FieldSize(Type type) => (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(type).Invoke(null, null)!;

    private static int Offset<T>(string field) => typeof(T).GetField(field)!.GetCustomAttribute<FieldOffsetAttribute>()!.Value;

    [GeneratedRegex(@"ld\.param(?:\.v(?<vector>[24]))?\.[usbf](?<bits>8|16|32|64)\s+[^\[]*\[(?<name>\w+)(?:\+(?<offset>\d+))?\]")]
    private static partial Regex ParamLoad();
}
