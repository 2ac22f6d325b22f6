import Foundation
import SafeFiles

/// A prompt set: one prompt a line, UTF-8; blank lines and lines starting with `#` are ignored, and
/// leading/trailing white space is trimmed.
public enum PromptFile {
    /// Reads prompts from `spec`: a file path, or the bare name of a set in a `Prompts` folder
    /// (`desk` → `Prompts/desk.txt`) looked up in the current folder, in `$CLIPCAM_PROMPTS_DIR`
    /// and beside the clipcam executable's package.
    /// Refuses files larger than `maxBytes` and files with more than `limit` prompts. A FIFO or device is
    /// refused at once, never read (it could block for ever).
    public static func load(_ spec: String, limit: Int = .max) throws -> [String] {
        let path = try resolve(spec)
        let data = Data(try ReadableFile.read(path, role: "prompt file", limit: maxBytes))
        guard let text = String(data: data, encoding: .utf8) else {
            let line = firstInvalidLine(data)
            throw PromptFileError.notUTF8(path.description, line: line)
        }
        let prompts = parse(text)
        if prompts.isEmpty { throw PromptFileError.empty(path.description) }
        if prompts.count > limit { throw PromptFileError.tooMany(path.description, count: prompts.count, limit: limit) }
        return prompts
    }

    /// The largest prompt file read: 4 MiB, room for the most prompts a run takes (10,000) at CLIP's full length.
    public static let maxBytes = 4 << 20

    /// `prompts` with each text kept once, in first-seen order, and the texts that were repeated (a prompt scored
    /// twice would only split its probability and repeat its column).
    public static func unique(_ prompts: [String]) -> (prompts: [String], repeated: [String]) {
        var seen = Set<String>()
        var kept: [String] = []
        var repeated: [String] = []
        for prompt in prompts {
            if seen.insert(prompt).inserted {
                kept.append(prompt)
            } else if !repeated.contains(prompt) {
                repeated.append(prompt)
            }
        }
        return (kept, repeated)
    }

    /// The prompts of a prompt file's text.
    public static func parse(_ text: String) -> [String] {
        var prompts: [String] = []
        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            var line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("\u{FEFF}") { line.removeFirst() }
            if line.isEmpty || line.hasPrefix("#") { continue }
            prompts.append(line)
        }
        return prompts
    }

    /// Folders searched for named prompt sets, in order.
    public static var searchFolders: [URL] {
        var folders = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("Prompts")]
        if let dir = ProcessInfo.processInfo.environment["CLIPCAM_PROMPTS_DIR"], !dir.isEmpty {
            folders.append(URL(fileURLWithPath: dir))
        }
        // An executable built in the repository (.build/<config>/clipcam) finds the repository's sets.
        // The executable itself (argv[0] may be a bare name found through $PATH).
        var dir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            folders.append(dir.appendingPathComponent("Prompts"))
            dir = dir.deletingLastPathComponent()
        }
        return folders
    }

    /// The named sets found in the search folders.
    public static func availableSets() -> [String] {
        var names = Set<String>()
        for folder in searchFolders {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            for file in files where file.hasSuffix(".txt") { names.insert(String(file.dropLast(4))) }
        }
        return names.sorted()
    }

    /// The file a spec names (a path, or a named set found in the search folders), or nil when there is none.
    public static func path(_ spec: String) -> String? {
        (try? resolve(spec)).map { String(decoding: $0.bytes, as: UTF8.self) }
    }

    static func resolve(_ spec: String) throws -> SystemPath {
        let path = SystemPath((spec as NSString).expandingTildeInPath)
        if FileKind.of(path) != .missing { return path }
        if !spec.contains("/") {
            let file = spec.hasSuffix(".txt") ? spec : spec + ".txt"
            for folder in searchFolders {
                let candidate = folder.appendingPathComponent(file)
                if FileManager.default.fileExists(atPath: candidate.path) { return SystemPath(candidate.path) }
            }
        }
        guard !spec.contains("/") else { throw PromptFileError.notFound(spec, available: availableSets()) }
        let folders = searchFolders
        let existing = folders.filter { FileKind.of(SystemPath($0.path)) == .directory }
        guard !existing.isEmpty else {
            var searched: [String] = []
            for folder in folders.map(\.path) where !searched.contains(folder) { searched.append(folder) }
            throw PromptFileError.noPromptsFolder(spec, searched: searched)
        }
        throw PromptFileError.noSuchSet(spec, searched: existing.map(\.path), available: availableSets())
    }

    private static func firstInvalidLine(_ data: Data) -> Int {
        var line = 1
        for chunk in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            if String(data: Data(chunk), encoding: .utf8) == nil { return line }
            line += 1
        }
        return line
    }
}

public enum PromptFileError: Error, CustomStringConvertible {
    /// A path (it holds a '/') that names no file.
    case notFound(String, available: [String])
    /// A set name, and none of the `searched` folders exists.
    case noPromptsFolder(String, searched: [String])
    /// A set name that none of the `searched` Prompts folders (those that exist) holds.
    case noSuchSet(String, searched: [String], available: [String])
    case unreadable(String)
    case notUTF8(String, line: Int)
    case empty(String)
    case tooMany(String, count: Int, limit: Int)

    public var description: String {
        switch self {
        case .notFound(let spec, let available):
            let sets = available.isEmpty ? "" : " Named sets: \(available.joined(separator: ", "))."
            return "no prompt file \(spec): give a path to a text file with one prompt a line, or a set name.\(sets)"
        case .noPromptsFolder(let spec, let searched):
            return "no prompt file \(spec), and no Prompts folder to look for a set named \(spec) in (looked for "
                + "\(searched.joined(separator: ", "))); set $CLIPCAM_PROMPTS_DIR to the folder holding the sets "
                + "(the repository's Prompts), or give the path of a text file with one prompt a line"
        case .noSuchSet(let spec, let searched, let available):
            let sets = available.isEmpty ? "" : " Named sets: \(available.joined(separator: ", "))."
            return "no prompt file \(spec), and no set of that name in \(searched.joined(separator: ", ")) "
                + "($CLIPCAM_PROMPTS_DIR names another folder of sets); give a set name or the path of a text file "
                + "with one prompt a line.\(sets)"
        case .unreadable(let path):
            return "cannot read the prompt file \(path)"
        case .notUTF8(let path, let line):
            return "the prompt file \(path) is not UTF-8 text (line \(line)); save it as UTF-8"
        case .empty(let path):
            return "the prompt file \(path) holds no prompts (blank lines and # comments are ignored)"
        case .tooMany(let path, let count, let limit):
            return "the prompt file \(path) holds \(count) prompts; clipcam takes at most \(limit)"
        }
    }
}
