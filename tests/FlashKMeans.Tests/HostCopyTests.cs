using FlashKMeans.Threading;

namespace FlashKMeans.Tests;

[TestClass]
public class HostCopyTests
{
    [TestMethod]
    [DataRow(0)]
    [DataRow(7)]
    [DataRow((1 << 18) - 1)]
    [DataRow((1 << 18) * 3 + 12345)]
    public void CopiesEveryValueAndNothingBeyond(int length)
    {
        var random = new Random(length);
        var source = new float[length];
        for (int i = 0; i < length; i++)
            source[i] = (float)random.NextDouble();
        var destination = new float[length + 5];
        destination.AsSpan(length).Fill(-1f);
        HostCopy.InParallel(source, destination);
        CollectionAssert.AreEqual(source, destination[..length]);
        Assert.IsTrue(destination.AsSpan(length).ToArray().All(v => v == -1f), "values past the copy were written");
    }

    [TestMethod]
    public void ShortDestinationIsAnErrorNamingBothLengths()
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() => HostCopy.InParallel(new float[10], new float[9]));
        StringAssert.Contains(e.Message, "9");
        StringAssert.Contains(e.Message, "10");
    }
}
