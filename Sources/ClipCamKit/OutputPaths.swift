import SafeFiles

/// Two options that would write one file, or write over a file the run reads.
public struct OutputPathError: Error, CustomStringConvertible, Equatable {
    public var output: String
    public var path: String
    public var other: String
    public var otherIsInput: Bool

    public var description: String {
        let shown = path == "-" ? "standard output" : path
        return otherIsInput
            ? "\(output) \(shown) is the file \(other) reads; writing results there would destroy it, choose "
                + "another file"
            : "\(output) and \(other) both write \(shown); give each its own file"
    }
}

public enum OutputPaths {
    /// Refuses outputs that name one file (links and other spellings included, `-` being standard output) and
    /// outputs that name an existing input file. `outputs` and `inputs` are (option, path) pairs; nil paths are
    /// options not given.
    public static func checkDistinct(outputs: [(String, String?)], inputs: [(String, String?)]) throws {
        var seen: [(option: String, identity: FileIdentity?, path: String)] = []
        for case let (option, path?) in outputs {
            let identity = path == "-" ? nil : FileIdentity(SystemPath(path))
            if let earlier = seen.first(where: { $0.identity == identity && (identity != nil || $0.path == path) }) {
                throw OutputPathError(
                    output: earlier.option, path: SystemPath(path).description, other: option, otherIsInput: false)
            }
            seen.append((option, identity, path))
        }
        for case let (option, path?) in inputs where path != "-" {
            let file = SystemPath(path)
            guard FileKind.of(file) == .regular else { continue }
            let identity = FileIdentity(file)
            if let output = seen.first(where: { $0.identity == identity }) {
                throw OutputPathError(output: output.option, path: file.description, other: option, otherIsInput: true)
            }
        }
    }
}
