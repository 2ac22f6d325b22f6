import Glibc
import SafeFiles

/// Two options that would write one file, an output over a file the run reads, or an output that cannot be
/// replaced safely.
public enum OutputPathError: Error, CustomStringConvertible, Equatable {
    case sameFile(output: String, other: String, path: String)
    case isInput(output: String, input: String, path: String)
    case notReplaceable(option: String, path: String, reason: String)

    public var description: String {
        switch self {
        case .sameFile(let output, let other, let path):
            let shown = path == "-" ? "standard output" : path
            return "\(output) and \(other) both write \(shown); give each its own file"
        case .isInput(let output, let input, let path):
            return "\(output) \(path) is a file \(input) reads; writing results there would destroy it, choose "
                + "another file"
        case .notReplaceable(let option, let path, let reason):
            return "\(option) \(path) \(reason)"
        }
    }
}

public enum OutputPaths {
    /// Refuses outputs that name one file (links and other spellings included, `-` being standard output) and
    /// outputs that name an existing input file. `outputs` and `inputs` are (option, path) pairs; nil paths are
    /// options not given; `inputFiles` are more inputs as bytes (a folder's images).
    public static func checkDistinct(
        outputs: [(String, String?)], inputs: [(String, String?)], inputFiles: [(String, SystemPath)] = []
    ) throws {
        var seen: [(option: String, identity: FileIdentity?, path: String)] = []
        for case let (option, path?) in outputs {
            let identity = path == "-" ? FileIdentity(descriptor: STDOUT_FILENO) : FileIdentity(SystemPath(path))
            if let earlier = seen.first(where: { $0.identity == identity && (identity != nil || $0.path == path) }) {
                throw OutputPathError.sameFile(
                    output: earlier.option, other: option, path: SystemPath(path).description)
            }
            seen.append((option, identity, path))
        }
        let named = inputs.compactMap { option, path in path.map { (option, SystemPath($0)) } }
        for (option, file) in named + inputFiles where file.bytes != Array("-".utf8) {
            guard FileKind.of(file) == .regular else { continue }
            let identity = FileIdentity(file)
            if let output = seen.first(where: { $0.identity == identity }) {
                throw OutputPathError.isInput(output: output.option, input: option, path: file.description)
            }
        }
    }

    /// Refuses a path a whole file is to be written to (beside it, then renamed over it) when something other than
    /// a regular file is there — a folder, a device, a FIFO, a socket, a symbolic link: renaming over it would
    /// replace the special file or the link itself — or when its folder does not exist or cannot be written.
    public static func checkReplaceable(_ path: String, option: String) throws {
        let target = SystemPath(path)
        var status = stat()
        if target.withCString({ lstat($0, &status) }) == 0 {
            let kind: String? =
                switch status.st_mode & S_IFMT {
                case S_IFREG: nil
                case S_IFLNK: "a symbolic link"
                default: FileKind.of(target).noun
                }
            if let kind {
                throw OutputPathError.notReplaceable(
                    option: option, path: target.description,
                    reason: "is \(kind); clipcam replaces only a regular file there, give another name")
            }
        }
        let name = target.lastComponent
        let folder = SystemPath(
            bytes: target.bytes.count > name.count ? target.bytes.dropLast(name.count) : Array(".".utf8))
        guard FileKind.of(folder) == .directory else {
            throw OutputPathError.notReplaceable(
                option: option, path: target.description,
                reason: "is in \(folder.description), which is not an existing folder")
        }
        guard folder.withCString({ access($0, W_OK | X_OK) }) == 0 else {
            throw OutputPathError.notReplaceable(
                option: option, path: target.description,
                reason: "is in \(folder.description), which this user cannot write to")
        }
    }
}
