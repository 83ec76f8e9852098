using FlashKMeans.Cuda.Streaming;

namespace FlashKMeans.Tests.Streaming;

/// <summary>Plain memory standing in for page-locked buffers, with a count of live ones and a planned failure.</summary>
internal sealed unsafe class FakeSlotAllocator(int failOnAllocation = -1) : IHostSlotAllocator
{
    private int _allocations;

    public int Live { get; private set; }

    public IHostSlot Allocate(long bytes)
    {
        if (_allocations++ == failOnAllocation)
            throw new OutOfMemoryException("planned failure");
        Live++;
        return new Slot(this, bytes);
    }

    private sealed class Slot : IHostSlot
    {
        private readonly FakeSlotAllocator _owner;
        private bool _freed;

        public Slot(FakeSlotAllocator owner, long bytes)
        {
            _owner = owner;
            Bytes = bytes;
            Pointer = (nint)System.Runtime.InteropServices.NativeMemory.Alloc((nuint)bytes);
        }

        public nint Pointer { get; }

        public long Bytes { get; }

        public void Dispose()
        {
            if (_freed)
                return;
            _freed = true;
            System.Runtime.InteropServices.NativeMemory.Free((void*)Pointer);
            _owner.Live--;
        }
    }
}

[TestClass]
public sealed class PinnedRingTests
{
    [TestMethod]
    public void Batches_rotate_through_the_slots()
    {
        var allocator = new FakeSlotAllocator();
        using (var ring = new PinnedRing(allocator, 4, 100))
        {
            Assert.AreEqual(4, allocator.Live);
            Assert.AreEqual(4, ring.Depth);
            CollectionAssert.AreEqual(new[] { 0, 1, 2, 3, 0, 1, 2 }, Enumerable.Range(0, 7).Select(i => ring.SlotOf(i)).ToArray());
            Assert.AreEqual(100, ring[3].Bytes);
        }
        Assert.AreEqual(0, allocator.Live);
    }

    [TestMethod]
    public void A_failed_allocation_frees_the_slots_before_it()
    {
        var allocator = new FakeSlotAllocator(failOnAllocation: 2);
        Assert.ThrowsExactly<OutOfMemoryException>(() => new PinnedRing(allocator, 3, 64));
        Assert.AreEqual(0, allocator.Live);
    }

    [TestMethod]
    public void Fewer_than_three_slots_are_rejected()
    {
        var allocator = new FakeSlotAllocator();
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new PinnedRing(allocator, 2, 64));
        Assert.AreEqual(0, allocator.Live);
    }
}
