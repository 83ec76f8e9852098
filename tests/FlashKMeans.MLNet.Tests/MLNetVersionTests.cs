using System.Reflection;
using Microsoft.ML;

namespace FlashKMeans.MLNet.Tests;

/// <summary>The plugin's tests run against the Microsoft.ML release the build asked for (scripts/test.sh runs them per release).</summary>
[TestClass]
public sealed class MLNetVersionTests
{
    [TestMethod]
    public void LoadedMicrosoftMLIsTheReleaseUnderTest()
    {
        var wanted = typeof(MLNetVersionTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "MLNetTestVersion")?.Value;
        if (string.IsNullOrEmpty(wanted))
            Assert.Inconclusive("This build does not say which Microsoft.ML release it tests (the GPU runner bundles the floor).");

        var loaded = typeof(MLContext).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        Assert.IsNotNull(loaded, "Microsoft.ML has no informational version");
        // "5.0.1+<commit>" or "6.0.0": the release is everything before a '+' build suffix.
        Assert.AreEqual(wanted, loaded.Split('+')[0], $"Microsoft.ML loaded at run time: {loaded}");
    }
}
