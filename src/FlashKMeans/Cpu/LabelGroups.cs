namespace FlashKMeans.Cpu;

/// <summary>Rows grouped by label: a counting sort that keeps row order within each cluster.</summary>
internal static class LabelGroups
{
    /// <summary>
    /// <c>Members[Start[c] .. Start[c + 1]]</c> are the rows labelled c, ascending; <paramref name="labels"/> are in [0, K).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static (int[] Start, int[] Members) ByLabel(ReadOnlySpan<int> labels, int numberOfClusters)
    {
        var start = new int[numberOfClusters + 1];
        foreach (int label in labels)
            start[label + 1]++;
        for (int c = 0; c < numberOfClusters; c++)
            start[c + 1] += start[c];
        var members = new int[labels.Length];
        var fill = (int[])start.Clone();
        for (int r = 0; r < labels.Length; r++)
            members[fill[labels[r]]++] = r;
        return (start, members);
    }
}
