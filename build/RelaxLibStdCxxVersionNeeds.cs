// An MSBuild task (compiled by RoslynCodeTaskFactory from build/LibTorchSharp.targets) that lets TorchSharp 0.107's
// native libLibTorchSharp.so load on Linux systems whose C++ runtime predates GCC 13 (Debian 12, Ubuntu 22.04, RHEL 9).
//
// The library declares that it needs the symbol version GLIBCXX_3.4.32 of libstdc++.so.6, which only GCC 13's runtime
// defines. The only symbol it binds to that version is std::ios_base_library_init(), a marker GCC 13's linker adds to
// every object that includes <iostream> and that no relocation refers to, so nothing ever looks it up. The dynamic
// loader still refuses the library for the missing version, unless the need is marked weak (VER_FLG_WEAK), in which
// case it only notes it. This task does exactly that, and nothing else:
//
//   - only on Linux, on the copy in a build output, never on the package cache (it replaces the file with a new one,
//     so a hard link into the cache is left untouched);
//   - only for versions that the libstdc++ this very process loaded (the one a dotnet process on this machine gets)
//     does not define: on a system with GCC 13 or newer (Debian 13, Ubuntu 24.04, the .NET 10 images) it changes nothing;
//   - only when no relocation refers to a symbol of such a version: otherwise the library would call into a runtime
//     that lacks the symbol, and the task fails the build, saying so;
//   - idempotently: a need already marked weak is left alone, and the file keeps its size and time stamp, so the next
//     build's copy step sees it as up to date and does not copy the original over it again.
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public sealed class RelaxLibStdCxxVersionNeeds : Task
{
    private const uint ShtDynsym = 11;
    private const uint ShtRela = 4;
    private const uint ShtGnuVerdef = 0x6ffffffd;
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const uint ShtGnuVersym = 0x6fffffff;
    private const ushort VerFlagWeak = 0x2;
    private const string LibStdCxx = "libstdc++.so.6";

    /// <summary>The native library in the build output to check (and patch when needed).</summary>
    [Required]
    public string Library { get; set; } = "";

    public override bool Execute()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux) || !File.Exists(Library))
        {
            return true;
        }

        string? runtime = LoadedLibStdCxx();
        if (runtime is null)
        {
            Log.LogMessage(MessageImportance.Low, $"{Library}: no libstdc++ is loaded into this process; nothing checked.");
            return true;
        }

        byte[] image = File.ReadAllBytes(Library);
        var target = new Elf(image, Library);
        HashSet<string> defined = new Elf(File.ReadAllBytes(runtime), runtime).DefinedVersions();
        List<(int Offset, ushort Index, string Name)> missing = target.VersionNeeds(LibStdCxx)
            .Where(n => (n.Flags & VerFlagWeak) == 0 && !defined.Contains(n.Name))
            .Select(n => (n.Offset, n.Index, n.Name))
            .ToList();
        if (missing.Count == 0)
        {
            Log.LogMessage(MessageImportance.Low, $"{Path.GetFileName(Library)}: every libstdc++ version it needs is defined by {runtime} or already weak; nothing to do.");
            return true;
        }

        foreach ((int _, ushort index, string name) in missing)
        {
            string[] used = target.RelocatedSymbolsOfVersion(index);
            if (used.Length > 0)
            {
                Log.LogError($"{Library} calls {string.Join(", ", used)}@{name}, which this system's C++ runtime ({runtime}) lacks. Install the C++ runtime of GCC 13 or newer (libstdc++6 from Debian 13 or Ubuntu 24.04, for example), or build on such a system.");
                return false;
            }
        }

        foreach ((int offset, ushort _, string _) in missing)
        {
            ushort flags = BitConverter.ToUInt16(image, offset + 4);
            BitConverter.GetBytes((ushort)(flags | VerFlagWeak)).CopyTo(image, offset + 4);
        }

        // A new file (a copy, so it keeps the mode) renamed into place: never a write through a link that the copy step
        // may have made into the package cache.
        DateTime written = File.GetLastWriteTimeUtc(Library);
        string temp = Library + ".relax-" + Guid.NewGuid().ToString("N");
        File.Copy(Library, temp);
        using (var stream = new FileStream(temp, FileMode.Open, FileAccess.Write))
        {
            stream.Write(image, 0, image.Length);
        }

        File.SetLastWriteTimeUtc(temp, written);
        File.Replace(temp, Library, null);
        Log.LogMessage(
            MessageImportance.High,
            $"{Path.GetFileName(Library)}: marked its need for {string.Join(", ", missing.Select(m => m.Name))} weak, since {runtime} lacks it and no relocation uses it (see build/LibTorchSharp.targets).");
        return true;
    }

    /// <summary>The path of the libstdc++ mapped into this process, as the dynamic loader chose it.</summary>
    private static string? LoadedLibStdCxx()
    {
        foreach (string line in File.ReadLines("/proc/self/maps"))
        {
            int slash = line.IndexOf('/');
            if (slash >= 0 && Path.GetFileName(line.Substring(slash)).StartsWith("libstdc++.so", StringComparison.Ordinal))
            {
                return line.Substring(slash).Trim();
            }
        }

        return null;
    }

    /// <summary>Just enough of a little-endian ELF64 reader for version definitions, version needs and relocations.</summary>
    private sealed class Elf
    {
        private readonly byte[] _image;
        private readonly List<(uint Type, long Offset, long Size, int Link, long EntrySize)> _sections = new();

        public Elf(byte[] image, string path)
        {
            if (image.Length < 64 || image[0] != 0x7f || image[1] != (byte)'E' || image[2] != (byte)'L' || image[3] != (byte)'F' || image[4] != 2 || image[5] != 1)
            {
                throw new InvalidDataException($"{path} is not a little-endian 64-bit ELF file.");
            }

            _image = image;
            long sectionTable = BitConverter.ToInt64(image, 0x28);
            int entrySize = BitConverter.ToUInt16(image, 0x3A);
            int count = BitConverter.ToUInt16(image, 0x3C);
            for (int i = 0; i < count; i++)
            {
                int at = checked((int)(sectionTable + (long)i * entrySize));
                _sections.Add((BitConverter.ToUInt32(image, at + 4), BitConverter.ToInt64(image, at + 0x18), BitConverter.ToInt64(image, at + 0x20), (int)BitConverter.ToUInt32(image, at + 0x28), BitConverter.ToInt64(image, at + 0x38)));
            }
        }

        public HashSet<string> DefinedVersions()
        {
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var section in _sections.Where(s => s.Type == ShtGnuVerdef))
            {
                long strings = _sections[section.Link].Offset;
                long at = section.Offset;
                while (true)
                {
                    int auxOffset = (int)BitConverter.ToUInt32(_image, (int)at + 12);
                    names.Add(Text(strings, BitConverter.ToUInt32(_image, (int)(at + auxOffset))));
                    uint next = BitConverter.ToUInt32(_image, (int)at + 16);
                    if (next == 0)
                    {
                        break;
                    }

                    at += next;
                }
            }

            return names;
        }

        /// <summary>The version needs on <paramref name="file"/>: each auxiliary entry's offset in the file, flags, index and name.</summary>
        public IEnumerable<(int Offset, ushort Flags, ushort Index, string Name)> VersionNeeds(string file)
        {
            foreach (var section in _sections.Where(s => s.Type == ShtGnuVerneed))
            {
                long strings = _sections[section.Link].Offset;
                long at = section.Offset;
                while (true)
                {
                    int auxCount = BitConverter.ToUInt16(_image, (int)at + 2);
                    bool wanted = Text(strings, BitConverter.ToUInt32(_image, (int)at + 4)) == file;
                    long aux = at + BitConverter.ToUInt32(_image, (int)at + 8);
                    for (int i = 0; i < auxCount; i++)
                    {
                        if (wanted)
                        {
                            yield return ((int)aux, BitConverter.ToUInt16(_image, (int)aux + 4), (ushort)(BitConverter.ToUInt16(_image, (int)aux + 6) & 0x7fff), Text(strings, BitConverter.ToUInt32(_image, (int)aux + 8)));
                        }

                        aux += BitConverter.ToUInt32(_image, (int)aux + 12);
                    }

                    uint next = BitConverter.ToUInt32(_image, (int)at + 12);
                    if (next == 0)
                    {
                        break;
                    }

                    at += next;
                }
            }
        }

        /// <summary>The names of the dynamic symbols of version <paramref name="index"/> that some relocation refers to.</summary>
        public string[] RelocatedSymbolsOfVersion(ushort index)
        {
            int dynsym = _sections.FindIndex(s => s.Type == ShtDynsym);
            var versym = _sections.FirstOrDefault(s => s.Type == ShtGnuVersym);
            if (dynsym < 0 || versym.Size == 0)
            {
                return Array.Empty<string>();
            }

            var referenced = new HashSet<long>();
            foreach (var rela in _sections.Where(s => s.Type == ShtRela && s.Link == dynsym))
            {
                for (long at = rela.Offset; at + 24 <= rela.Offset + rela.Size; at += 24)
                {
                    referenced.Add((long)(BitConverter.ToUInt64(_image, (int)at + 8) >> 32));
                }
            }

            var symbols = _sections[dynsym];
            long strings = _sections[symbols.Link].Offset;
            return referenced
                .Where(symbol => symbol != 0 && (BitConverter.ToUInt16(_image, (int)(versym.Offset + symbol * 2)) & 0x7fff) == index)
                .Select(symbol => Text(strings, BitConverter.ToUInt32(_image, (int)(symbols.Offset + symbol * symbols.EntrySize))))
                .ToArray();
        }

        private string Text(long table, uint offset)
        {
            int start = checked((int)(table + offset));
            int end = Array.IndexOf(_image, (byte)0, start);
            return Encoding.ASCII.GetString(_image, start, end - start);
        }
    }
}
