// Three tiny namespaces for NamespaceLayeringTests: Upper and Lower use each other (a cycle the walk must find), and
// both use Leaf, which uses nothing. Each use takes a different path through the metadata.
namespace FlashKMeans.Tests.Structure.Probe.Leaf
{
    internal sealed class LeafValue;
}

namespace FlashKMeans.Tests.Structure.Probe.Upper
{
    internal sealed class UpperHolder
    {
        // A generic argument of a field's type.
        public List<Lower.LowerCaller> Callers = [];

        // An array in a method signature.
        public static int Count(Leaf.LeafValue[] values) => values.Length;
    }
}

namespace FlashKMeans.Tests.Structure.Probe.Lower
{
    internal sealed class LowerCaller
    {
        // A use inside a method body only.
        public static int Call() => Upper.UpperHolder.Count([]);
    }
}
