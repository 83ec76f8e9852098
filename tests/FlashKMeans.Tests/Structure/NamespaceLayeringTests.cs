using FlashKMeans.Clustering;

namespace FlashKMeans.Tests.Structure;

/// <summary>
/// The engine's namespaces form layers (docs/architecture.md): each uses only those below it, so no two namespaces
/// use each other, directly or round a longer loop. Read from the compiled library, not from its sources.
/// </summary>
[TestClass]
public sealed class NamespaceLayeringTests
{
    /// <summary>Lowest first; a namespace may use those of earlier layers only.</summary>
    private static readonly string[][] Layers =
    [
        ["FlashKMeans", "FlashKMeans.Primitives", "FlashKMeans.Threading"],  // options, enums, reports; small helpers
        ["FlashKMeans.Cuda.Native", "FlashKMeans.Data"],                    // the CUDA driver API; row sources and validation
        ["FlashKMeans.Backends"],                                           // what a backend supplies, and scorer decorators
        ["FlashKMeans.Cpu", "FlashKMeans.Cuda"],                            // the SIMD backend; the CUDA kernels and resident binding
        ["FlashKMeans.Cuda.Streaming"],                                     // streamed and cached GPU data
        ["FlashKMeans.Cuda.Backend"],                                       // the CUDA backend: where the data lives
        ["FlashKMeans.Engine"],                                             // the Lloyd loop, seeding, backend choice
        ["FlashKMeans.Clustering"],                                         // KMeans, KMeansModel, MiniBatchKMeans
        ["FlashKMeans.Constrained", "FlashKMeans.Prototypes", "FlashKMeans.Selection"],
    ];

    private static readonly NamespaceGraph Engine = NamespaceGraph.Read(typeof(KMeans).Assembly.Location, "FlashKMeans");

    [TestMethod]
    public void No_two_namespaces_of_the_engine_use_each_other()
    {
        var cycles = Engine.Cycles();
        Assert.IsEmpty(cycles, "namespaces that use each other:\n" + string.Join("\n", cycles.Select(c =>
            string.Join(", ", c) + "\n" + Engine.Describe(c))));
    }

    [TestMethod]
    public void Every_namespace_uses_only_the_layers_below_it()
    {
        var layerOf = Layers.SelectMany((names, layer) => names.Select(n => (n, layer))).ToDictionary(p => p.n, p => p.layer);
        var unplaced = Engine.Edges.Keys.SelectMany(e => new[] { e.From, e.To }).Distinct().Where(n => !layerOf.ContainsKey(n)).ToList();
        Assert.IsEmpty(unplaced, "namespaces with no layer in this test (add them where they belong): " + string.Join(", ", unplaced));
        var upward = Engine.Edges.Where(e => layerOf[e.Key.To] >= layerOf[e.Key.From])
            .Select(e => $"{e.Key.From} -> {e.Key.To}: {string.Join("; ", e.Value)}").ToList();
        Assert.IsEmpty(upward, "uses of a namespace in the same or a higher layer:\n" + string.Join("\n", upward));
    }

    [TestMethod]
    public void The_walk_finds_uses_through_signatures_generic_arguments_and_method_bodies()
    {
        var probe = NamespaceGraph.Read(typeof(NamespaceLayeringTests).Assembly.Location, "FlashKMeans.Tests.Structure.Probe");
        var cycles = probe.Cycles();
        Assert.HasCount(1, cycles);
        CollectionAssert.AreEqual(new[] { "FlashKMeans.Tests.Structure.Probe.Lower", "FlashKMeans.Tests.Structure.Probe.Upper" }, cycles[0].ToArray());
        var edges = probe.Edges;
        // Upper uses Lower through a generic argument of a field's type; Lower uses Upper only inside a method body.
        StringAssert.Contains(string.Join(";", edges[("FlashKMeans.Tests.Structure.Probe.Upper", "FlashKMeans.Tests.Structure.Probe.Lower")]), "UpperHolder");
        StringAssert.Contains(string.Join(";", edges[("FlashKMeans.Tests.Structure.Probe.Lower", "FlashKMeans.Tests.Structure.Probe.Upper")]), "LowerCaller.Call");
        // The leaf is used through an array in a signature and uses nothing: it is in no cycle.
        Assert.IsTrue(edges.ContainsKey(("FlashKMeans.Tests.Structure.Probe.Upper", "FlashKMeans.Tests.Structure.Probe.Leaf")));
        Assert.IsFalse(edges.Keys.Any(e => e.From == "FlashKMeans.Tests.Structure.Probe.Leaf"));
    }
}
