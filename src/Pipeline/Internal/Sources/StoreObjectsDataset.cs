using System.Buffers.Binary;

namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>The objects under a prefix of a store, in ordinal key order: their records, or each whole object.</summary>
internal sealed class StoreObjectsDataset(IInputStateStore store, string prefix, StoreObjectFormat format, TFRecordCorruption onCorruption = TFRecordCorruption.Throw)
    : Dataset<byte[]>(ElementCodecRegistry.Default)
{
    internal override StructureNode Describe() => StructureNode.Create(
        "store_objects",
        [
            StructureParameter.Of("provider", store.ProviderName),
            StructureParameter.Of("prefix", prefix),
            StructureParameter.Of("format", format switch
            {
                StoreObjectFormat.Records => "records",
                StoreObjectFormat.WholeObject => "whole_object",
                _ => "tfrecord",
            }),
            .. format == StoreObjectFormat.TFRecord ? TFRecordFormat.Parameters(onCorruption) : [],
        ]);

    internal override Node<byte[]> CreateNode(IterationContext context) => new StoreObjectsNode(store, prefix, format, onCorruption);

    /// <summary>
    /// The position is (key, offset): the object being read and the offset of its next record. Before the keys are listed,
    /// it is the restored position (or none: the first key). A read that fails or is cancelled drops the open content, so
    /// the next call reopens the object at the offset with a ranged read.
    /// </summary>
    private sealed class StoreObjectsNode(IInputStateStore store, string prefix, StoreObjectFormat format, TFRecordCorruption onCorruption) : Node<byte[]>
    {
        private const int ReadBufferSize = 64 * 1024;

        private string[]? _keys;
        private int _keyIndex;
        private string? _resumeKey;
        private long _offset;
        private bool _done;
        private StoreReadResult? _open;
        private Stream? _content;

        public override async ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken)
        {
            if (_done)
            {
                return false;
            }

            if (_keys is null)
            {
                await ListAsync(cancellationToken).ConfigureAwait(false);
            }

            string[] keys = _keys!;
            while (_keyIndex < keys.Length)
            {
                try
                {
                    if (_content is null)
                    {
                        StoreReadResult? read = await store.ReadAsync(keys[_keyIndex], _offset, cancellationToken).ConfigureAwait(false);
                        if (read is null)
                        {
                            // Deleted since it was listed: go on with the next one.
                            NextObject();
                            continue;
                        }

                        _open = read;
                        _content = new BufferedStream(read.Content, ReadBufferSize);
                    }

                    byte[]? element = format switch
                    {
                        StoreObjectFormat.Records => await ReadRecordAsync(_content, keys[_keyIndex], cancellationToken).ConfigureAwait(false),
                        StoreObjectFormat.WholeObject => await ReadWholeAsync(_content, cancellationToken).ConfigureAwait(false),
                        _ => await ReadTFRecordAsync(_content, keys[_keyIndex], cancellationToken).ConfigureAwait(false),
                    };
                    if (element is not null)
                    {
                        Current = element;
                        if (format == StoreObjectFormat.WholeObject)
                        {
                            await CloseAsync().ConfigureAwait(false);
                            NextObject();
                        }

                        return true;
                    }
                }
                catch
                {
                    await CloseAsync().ConfigureAwait(false);
                    throw;
                }

                await CloseAsync().ConfigureAwait(false);
                NextObject();
            }

            _done = true;
            return false;
        }

        public override StateWrite Capture(CaptureContext context)
        {
            string? key;
            long offset;
            bool done = _done;
            if (_keys is null)
            {
                key = _resumeKey;
                offset = _offset;
            }
            else if (_keyIndex < _keys.Length)
            {
                key = _keys[_keyIndex];
                offset = _offset;
            }
            else
            {
                key = null;
                offset = 0;
                done = true;
            }

            return (writer, _) =>
            {
                writer.WriteBool(done);
                writer.WriteString(key);
                writer.WriteInt64(offset);
                return ValueTask.CompletedTask;
            };
        }

        public override async ValueTask RestoreAsync(StateReader reader, CancellationToken cancellationToken)
        {
            _done = await reader.ReadBoolAsync(cancellationToken).ConfigureAwait(false);
            _resumeKey = await reader.ReadStringAsync(cancellationToken).ConfigureAwait(false);
            _offset = await reader.ReadInt64Async(0, long.MaxValue, "the object offset", cancellationToken).ConfigureAwait(false);
            if (_resumeKey is null && _offset != 0)
            {
                throw new StateCorruptException("an object offset is saved without its key.");
            }
        }

        protected override async ValueTask ReleaseAsync() => await CloseAsync().ConfigureAwait(false);

        private async ValueTask ListAsync(CancellationToken cancellationToken)
        {
            var keys = new List<string>();
            await foreach (StoreObjectInfo info in store.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
            {
                keys.Add(info.Key);
            }

            string[] sorted = [.. keys.Distinct(StringComparer.Ordinal)];
            Array.Sort(sorted, StringComparer.Ordinal);
            _keyIndex = 0;
            if (_resumeKey is not null)
            {
                int found = Array.BinarySearch(sorted, _resumeKey, StringComparer.Ordinal);
                if (found >= 0)
                {
                    _keyIndex = found;
                }
                else
                {
                    // The saved object is gone: continue with the next key after it.
                    _keyIndex = ~found;
                    _offset = 0;
                }
            }

            _keys = sorted;
        }

        private async ValueTask<byte[]?> ReadRecordAsync(Stream content, string key, CancellationToken cancellationToken)
        {
            byte[] head = new byte[4];
            int got = await content.ReadAtLeastAsync(head, 4, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            if (got == 0)
            {
                return null;
            }

            if (got < 4)
            {
                throw new InvalidDataException($"Object \"{key}\" ends inside a record's length, at byte {_offset + got}.");
            }

            int length = BinaryPrimitives.ReadInt32LittleEndian(head);
            long remaining = _open!.Info.Length - _offset - 4;
            if (length < 0 || length > remaining)
            {
                throw new InvalidDataException($"Object \"{key}\" has a record of {length} bytes at byte {_offset}, past its end ({_open.Info.Length} bytes).");
            }

            byte[] record = new byte[length];
            await content.ReadExactlyAsync(record, cancellationToken).ConfigureAwait(false);
            _offset += 4L + length;
            return record;
        }

        /// <summary>Reads the next TFRecord, both CRCs checked; <see langword="null"/> at the end of the object (or, when skipping, at damage that ends it).</summary>
        private async ValueTask<byte[]?> ReadTFRecordAsync(Stream content, string key, CancellationToken cancellationToken)
        {
            byte[] header = new byte[TFRecordFormat.HeaderSize];
            while (true)
            {
                long start = _offset;
                int got = await content.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                if (got == 0)
                {
                    return null;
                }

                if (got < header.Length)
                {
                    return Damaged(key, start, $"the object ends inside a record's header ({got} of {header.Length} bytes).");
                }

                if (!TFRecordFormat.TryReadHeader(header, out ulong length))
                {
                    return Damaged(key, start, "the CRC-32C of the record's length does not match; the length cannot be trusted.");
                }

                long remaining = _open!.Info.Length - start - TFRecordFormat.HeaderSize - TFRecordFormat.FooterSize;
                if (length > (ulong)Math.Max(0, remaining) || length > (ulong)Array.MaxLength)
                {
                    return Damaged(key, start, $"the object ends inside the {length}-byte record ({_open.Info.Length} bytes in all).");
                }

                byte[] record = new byte[length];
                await content.ReadExactlyAsync(record, cancellationToken).ConfigureAwait(false);
                await content.ReadExactlyAsync(header.AsMemory(0, TFRecordFormat.FooterSize), cancellationToken).ConfigureAwait(false);
                _offset = start + TFRecordFormat.HeaderSize + (long)length + TFRecordFormat.FooterSize;
                if (TFRecordFormat.DataMatches(record, header.AsSpan(0, TFRecordFormat.FooterSize)))
                {
                    return record;
                }

                if (onCorruption == TFRecordCorruption.Throw)
                {
                    _offset = start;
                    throw new TFRecordCorruptedException(key, start, $"the CRC-32C of the {length}-byte record's data does not match.");
                }

                // Skipped; the length was sound, so the next record follows.
            }
        }

        /// <summary>Throws, or when skipping, ends the object: what follows a damaged length or a cut-short record cannot be found.</summary>
        private byte[]? Damaged(string key, long offset, string reason) =>
            onCorruption == TFRecordCorruption.Skip ? null : throw new TFRecordCorruptedException(key, offset, reason);

        private static async ValueTask<byte[]?> ReadWholeAsync(Stream content, CancellationToken cancellationToken)
        {
            using var copy = new MemoryStream();
            await content.CopyToAsync(copy, cancellationToken).ConfigureAwait(false);
            return copy.ToArray();
        }

        private void NextObject()
        {
            _keyIndex++;
            _offset = 0;
        }

        private async ValueTask CloseAsync()
        {
            if (_content is not null)
            {
                await _content.DisposeAsync().ConfigureAwait(false);
                _content = null;
            }

            if (_open is not null)
            {
                await _open.DisposeAsync().ConfigureAwait(false);
                _open = null;
            }
        }
    }
}
