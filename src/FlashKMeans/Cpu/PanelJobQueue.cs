using System.Runtime.CompilerServices;

namespace FlashKMeans.Cpu;

/// <summary>
/// The (row, panel) jobs of the pruned CPU paths (<see cref="YinyangPruning"/>, <see cref="SeedDistancePruning"/>):
/// queued per chunk for the panels a row's bounds could not rule out, then run panel by panel through
/// <see cref="FusedAssignKernel.PanelMinimum"/>, so that each panel streams from cache once for all its rows.
/// Each job gets the lowest key ‖c‖² − 2·x·c over its panel and the index that reaches it.
/// </summary>
internal class PanelJobQueue
{
    public int[] Rows = [], Panels = [], Order = [], RowIndices = [], Starts = [], Ends = [];
    public float[] Minima = [], Argmins = [], SortedMinima = [], SortedArgmins = [], RowNorms = [];
    public int Count;

    /// <summary>Room for <paramref name="rows"/> rows, <paramref name="jobs"/> jobs and <paramref name="panels"/> panels; no jobs queued.</summary>
    public void Prepare(int rows, int jobs, int panels)
    {
        Count = 0;
        if (Rows.Length < jobs)
        {
            Rows = new int[jobs];
            Panels = new int[jobs];
            Minima = new float[jobs];
            Argmins = new float[jobs];
            Order = new int[jobs];
            RowIndices = new int[jobs];
            SortedMinima = new float[jobs];
            SortedArgmins = new float[jobs];
        }
        if (Ends.Length < rows)
        {
            Ends = new int[rows];
            RowNorms = new float[rows];
        }
        if (Starts.Length < panels + 1)
            Starts = new int[panels + 1];
    }

    public void Add(int row, int panel)
    {
        if (Count == Rows.Length)
            Grow();
        Rows[Count] = row;
        Panels[Count] = panel;
        Count++;
    }

    /// <summary>Runs the jobs queued from <paramref name="from"/> on; their results land in <see cref="Minima"/> and <see cref="Argmins"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Run(ReadOnlySpan<float> rows, PackedCentroids packed, int panels, int from = 0)
    {
        int total = Count - from;
        if (total <= 0)
            return;
        // Counting sort by panel.
        var start = Starts.AsSpan(0, panels + 1);
        start.Clear();
        for (int j = from; j < Count; j++)
            start[Panels[j] + 1]++;
        for (int p = 0; p < panels; p++)
            start[p + 1] += start[p];
        for (int j = from; j < Count; j++)
            Order[start[Panels[j]]++] = j;
        for (int p = panels; p > 0; p--)
            start[p] = start[p - 1];
        start[0] = 0;
        for (int s = 0; s < total; s++)
            RowIndices[s] = Rows[Order[s]];
        for (int p = 0; p < panels; p++)
        {
            int lo = start[p], hi = start[p + 1];
            if (hi > lo)
                FusedAssignKernel.PanelMinimum(rows, packed, p, RowIndices.AsSpan(lo, hi - lo),
                    SortedMinima.AsSpan(lo, hi - lo), SortedArgmins.AsSpan(lo, hi - lo));
        }
        for (int s = 0; s < total; s++)
        {
            Minima[Order[s]] = SortedMinima[s];
            Argmins[Order[s]] = SortedArgmins[s];
        }
    }

    private void Grow()
    {
        int size = Math.Max(16, Rows.Length * 2);
        Array.Resize(ref Rows, size);
        Array.Resize(ref Panels, size);
        Array.Resize(ref Minima, size);
        Array.Resize(ref Argmins, size);
        Order = new int[size];
        RowIndices = new int[size];
        SortedMinima = new float[size];
        SortedArgmins = new float[size];
    }
}
