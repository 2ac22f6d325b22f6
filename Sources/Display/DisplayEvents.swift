import CSDL2

/// What the user asked for through the window.
public enum DisplayEvent: Equatable, Sendable {
    /// Window closed, `q`, or Esc while not typing a prompt.
    case quit
    /// Space.
    case togglePause
    /// `p`.
    case nextPrompt
    /// A prompt is being typed after `/`; the text so far (empty right after `/`).
    case promptDraft(String)
    /// Esc while typing, or Enter on an empty prompt.
    case promptCancelled
    /// Enter after typing a prompt; the text, without surrounding spaces.
    case newPrompt(String)
    /// The drawing area changed size.
    case resized(PixelSize)
}

/// Turns SDL events into `DisplayEvent`s and holds the state of prompt typing.
public struct DisplayEventMapper {
    /// The prompt being typed, or nil when not typing.
    public private(set) var draft: String?
    /// Timestamp of the `/` key press that started typing: its own text event (sent by SDL within the same
    /// millisecond or two, when text input was already on) is not part of the prompt.
    private var startTimestamp: UInt32?

    public init() {}

    public var isTyping: Bool { draft != nil }

    public mutating func map(_ event: SDL_Event) -> [DisplayEvent] {
        switch SDL_EventType(event.type) {
        case SDL_QUIT:
            return [.quit]
        case SDL_WINDOWEVENT:
            switch SDL_WindowEventID(UInt32(event.window.event)) {
            case SDL_WINDOWEVENT_CLOSE:
                return [.quit]
            case SDL_WINDOWEVENT_SIZE_CHANGED:
                return [.resized(PixelSize(width: Int(event.window.data1), height: Int(event.window.data2)))]
            default:
                return []
            }
        case SDL_KEYDOWN:
            return keyDown(event.key)
        case SDL_TEXTINPUT:
            return text(event.text)
        default:
            return []
        }
    }

    private mutating func keyDown(_ key: SDL_KeyboardEvent) -> [DisplayEvent] {
        let code = key.keysym.sym
        if var text = draft {
            switch code {
            case SDLKey.escape:
                return cancel()
            case SDLKey.return, SDLKey.keypadEnter:
                let prompt = text.trimmingSpaces()
                draft = nil
                startTimestamp = nil
                return prompt.isEmpty ? [.promptCancelled] : [.newPrompt(prompt)]
            case SDLKey.backspace:
                guard !text.isEmpty else { return [] }
                text.removeLast()
                draft = text
                return [.promptDraft(text)]
            default:
                // Letters arrive as text events; other keys do nothing while typing.
                return []
            }
        }
        guard key.repeat == 0 else { return [] }
        switch code {
        case SDLKey.q, SDLKey.escape:
            return [.quit]
        case SDLKey.space:
            return [.togglePause]
        case SDLKey.p:
            return [.nextPrompt]
        case SDLKey.slash, SDLKey.keypadDivide:
            draft = ""
            startTimestamp = key.timestamp
            return [.promptDraft("")]
        default:
            return []
        }
    }

    private mutating func text(_ input: SDL_TextInputEvent) -> [DisplayEvent] {
        guard var text = draft else { return [] }
        let typed = withUnsafeBytes(of: input.text) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if text.isEmpty, let start = startTimestamp, input.timestamp &- start <= 2, typed.hasPrefix("/") {
            // The `/` that opened the prompt.
            startTimestamp = nil
            let rest = typed.dropFirst()
            guard !rest.isEmpty else { return [] }
            text += rest
        } else {
            text += typed
        }
        draft = text
        return [.promptDraft(text)]
    }

    private mutating func cancel() -> [DisplayEvent] {
        draft = nil
        startTimestamp = nil
        return [.promptCancelled]
    }
}

/// SDL key codes as `SDL_Keycode` values.
enum SDLKey {
    static let escape = SDL_Keycode(SDLK_ESCAPE.rawValue)
    static let `return` = SDL_Keycode(SDLK_RETURN.rawValue)
    static let keypadEnter = SDL_Keycode(SDLK_KP_ENTER.rawValue)
    static let backspace = SDL_Keycode(SDLK_BACKSPACE.rawValue)
    static let q = SDL_Keycode(SDLK_q.rawValue)
    static let p = SDL_Keycode(SDLK_p.rawValue)
    static let space = SDL_Keycode(SDLK_SPACE.rawValue)
    static let slash = SDL_Keycode(SDLK_SLASH.rawValue)
    static let keypadDivide = SDL_Keycode(SDLK_KP_DIVIDE.rawValue)
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var characters = Substring(self)
        while characters.first?.isWhitespace == true { characters.removeFirst() }
        while characters.last?.isWhitespace == true { characters.removeLast() }
        return String(characters)
    }
}
