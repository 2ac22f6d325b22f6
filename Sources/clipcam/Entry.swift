// What happens before and after ArgumentParser: the raw bytes of arguments that are not UTF-8 are recorded (file
// names are bytes), options given twice and `help` for a command that does not exist are refused (ArgumentParser
// keeps the last value silently and prints the general help), and messages show file names as the user typed
// them.
import ArgumentParser
import CLinux
import Capture
import Foundation
import SafeFiles

/// A command that takes some options more than once (each occurrence adds a value).
protocol RepeatableOptions {
    static var repeatableOptions: Set<String> { get }
}

/// A command's whole-number options and their ranges. `validate()` checks the values against them; `ArgumentRules`
/// gives a number too large for an `Int` (which ArgumentParser would only call invalid) the same message.
protocol WholeNumberOptions {
    static var wholeNumberOptions: [String: WholeNumberBound] { get }
}

/// The range of a whole-number option and its unit, for messages.
struct WholeNumberBound {
    var range: ClosedRange<Int>
    var unit: String

    /// "--smooth must be between 1 and 1000 (scored frames), not 0"
    func refusal(option: String, value: String) -> String {
        "\(option) must be between \(range.lowerBound) and \(range.upperBound) (\(unit)), not \(value)"
    }
}

extension ClipCam {
    static func main() {
        CommandLineBytes.record()
        // A file size limit (ulimit -f) makes a write fail with EFBIG, reported like a full disk, instead of killing
        // clipcam with half a line written.
        signal(SIGXFSZ, SIG_IGN)
        // Started with SIGINT or SIGTERM blocked (a parent's thread mask is inherited through exec: a thread pool's
        // thread that spawns us blocks nearly every signal), Ctrl-C would stay pending for ever. Unblocked here,
        // before any thread exists, for every thread clipcam makes.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGINT)
        sigaddset(&stopSignals, SIGTERM)
        sigprocmask(SIG_UNBLOCK, &stopSignals, nil)
        let arguments = Array(CommandLine.arguments.dropFirst())
        do {
            try ArgumentRules.check(arguments)
        } catch {
            // ArgumentParser's own layout for a bad command line, word for word.
            let path = ArgumentRules.path(of: error.command)
            printError(
                "\(ClipCam._errorPrefix)\(error.message)\nUsage: \(ClipCam.usageString(for: error.command))\n"
                    + "  See 'clipcam \(path.isEmpty ? "" : path + " ")--help' for more information.")
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            // print() goes through C's buffered stdout: a full disk or a closed descriptor (`> /dev/full`, `>&-`)
            // shows only here, and must not end in status 0 with the output lost.
            if clinux_flush_stdout() != 0 {
                printError("error: writing to standard output failed: \(String(cString: strerror(errno)))")
                Foundation.exit(ExitCode.failure.rawValue)
            }
        } catch {
            let code = exitCode(for: error)
            let text = PathNames.restore(in: fullMessage(for: error))
            if code == .success {
                print(text)
            } else if !text.isEmpty {
                printError(text)
            }
            Foundation.exit(code.rawValue)
        }
    }
}

/// A command line ArgumentParser would accept but clipcam refuses, and the command it was for.
struct ArgumentRuleError: Error {
    var message: String
    var command: any ParsableCommand.Type
}

enum ArgumentRules {
    /// Refuses what ArgumentParser would accept silently: a single-value option or a flag given twice (it keeps
    /// the last), and `help` followed by something that is not a command (it prints the general help, status 0).
    static func check(_ arguments: [String]) throws(ArgumentRuleError) {
        var command: any ParsableCommand.Type = ClipCam.self
        var rest = arguments[...]
        if rest.first == "help" {
            rest = rest.dropFirst()
            for word in rest where !word.hasPrefix("-") && word != "help" {
                guard let next = subcommand(of: command, named: word) else {
                    let list = names(of: command)
                    throw ArgumentRuleError(
                        message: list.isEmpty
                            ? "'\(path(of: command))' has no command '\(word)'"
                            : "no command '\(word)'; the commands are: " + list.joined(separator: ", "),
                        command: command)
                }
                command = next
            }
            return
        }
        while let word = rest.first, let next = subcommand(of: command, named: word) {
            command = next
            rest = rest.dropFirst()
        }
        let repeatable = (command as? any RepeatableOptions.Type)?.repeatableOptions ?? []
        let bounded = (command as? any WholeNumberOptions.Type)?.wholeNumberOptions ?? [:]
        var seen: [String: String] = [:]
        for (index, word) in zip(rest.indices, rest) {
            if word == "--" { break }
            guard word.hasPrefix("--"), word.count > 2 else { continue }
            var name = String(word.prefix { $0 != "=" })
            // A whole number too large for an Int is as out of range as a smaller one.
            if let bound = bounded[name] {
                let value =
                    word.contains("=") ? String(word.drop { $0 != "=" }.dropFirst()) : rest[(index + 1)...].first
                if let value, Int(value) == nil, FrameLimits.wholeNumber(value) != nil {
                    throw ArgumentRuleError(message: bound.refusal(option: name, value: value), command: command)
                }
            }
            // A flag and its inversion are one option: --reuse and --no-reuse.
            if name.hasPrefix("--no-") { name = "--" + name.dropFirst("--no-".count) }
            if repeatable.contains(name) { continue }
            // The occurrence as typed, with its value when it has one ("--fps 15", "--fps=15").
            var shown = word
            if !word.contains("="), index + 1 < rest.endIndex, !rest[index + 1].hasPrefix("--") {
                shown += " " + quoted(rest[index + 1])
            }
            if let earlier = seen[name] {
                throw ArgumentRuleError(
                    message: "\(name) was given twice (\(earlier), then \(shown)); give it once",
                    command: command)
            }
            seen[name] = shown
        }
    }

    /// "model random" for `Model.Random`.
    static func path(of command: any ParsableCommand.Type) -> String {
        var names: [String] = []
        func find(_ node: any ParsableCommand.Type, _ trail: [String]) -> Bool {
            if node == command {
                names = trail
                return true
            }
            return node.configuration.subcommands.contains { find($0, trail + [$0._commandName]) }
        }
        _ = find(ClipCam.self, [])
        return names.joined(separator: " ")
    }

    private static func quoted(_ value: String) -> String {
        value.contains(where: { $0 == " " || $0 == "\"" }) || value.isEmpty ? "\"\(value)\"" : value
    }

    private static func names(of command: any ParsableCommand.Type) -> [String] {
        command.configuration.subcommands.map { $0._commandName }
    }

    private static func subcommand(of command: any ParsableCommand.Type, named name: String)
        -> (any ParsableCommand.Type)?
    {
        command.configuration.subcommands.first { $0._commandName == name }
    }
}
