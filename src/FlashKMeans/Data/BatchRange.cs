namespace FlashKMeans.Data;

/// <summary>
/// The forward walk every fixed-size batch reader makes over [0, total): the next run of at most
/// batchRows rows, then past it.
/// </summary>
internal struct BatchRange
{
    private long _next;

    /// <returns><c>false</c> at the end of the pass.</returns>
    public bool TryNext(long total, int batchRows, out long first, out int count)
    {
        first = _next;
        if (_next >= total)
        {
            count = 0;
            return false;
        }
        count = (int)Math.Min(batchRows, total - _next);
        _next += count;
        return true;
    }
}
