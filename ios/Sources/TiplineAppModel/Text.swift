// What the screens show as text: the core's sentences through `Localizer`, and the app's own
// messages named by `AppMessage` (their words are in the app's Localizable.strings). The Swift
// twin of android/viewmodel/.../Text.kt.
import Foundation
import TiplineFFI

/// A message for the screen: a sentence the core localised, or one of the app's own.
public enum Notice: Equatable {
    /// Already in the reporter's language.
    case text(String)
    /// One of the app's messages; the key of its Localizable.strings entry is its raw value.
    case app(AppMessage)
}

/// The app's own messages that a model can raise.
public enum AppMessage: String {
    case noDirectory = "message_no_directory"
    case noRegion = "message_no_region"
    case caseNotFound = "message_case_not_found"
    case notFound = "message_not_found"
    case crypto = "message_crypto"
    case storage = "message_storage"
    /// The neutral words of the update notification ("You have an update"): nothing more.
    case update = "message_update"
}

/// The core's strings in one language, and the dates a screen shows in it.
public final class CoreText {
    public let language: Language
    public let localizer: Localizer
    private let dateTimeFormat = DateFormatter()
    private let timeFormat = DateFormatter()

    public init(language: Language) {
        self.language = language
        localizer = Localizer(language: language)
        let locale = Locale(identifier: language.code())
        dateTimeFormat.locale = locale
        dateTimeFormat.dateStyle = .medium
        dateTimeFormat.timeStyle = .short
        timeFormat.locale = locale
        timeFormat.dateStyle = .none
        timeFormat.timeStyle = .short
    }

    /// The core's string `id`, with its arguments put in by the core's Fluent formatting.
    public func text(_ id: String, _ args: [String: String] = [:]) -> String {
        localizer.textWith(id: id, args: args)
    }

    public func dateTime(_ date: Date) -> String { dateTimeFormat.string(from: date) }

    public func time(_ date: Date) -> String { timeFormat.string(from: date) }

    /// A directory label for this language, by the core's rule.
    public func label(_ labels: [String: String]) -> String {
        localizer.label(labels: labels)
    }

    /// What the screen says about a failed call.
    public func notice(_ error: Error) -> Notice {
        guard let error = error as? ApiError else { return .app(.storage) }
        switch error {
        case .Network(let reason, _, _):
            return .text(localizer.text(id: reason))
        case .InvalidInput(let fields, _):
            return .text(fields.map { $0.message(localizer: localizer) }.joined(separator: "\n"))
        case .NotFound:
            return .app(.notFound)
        case .Crypto:
            return .app(.crypto)
        case .Storage:
            return .app(.storage)
        }
    }

    /// Each field's problems as the core's sentences, by field.
    public func problems(_ fields: [FieldProblem]) -> [String: String] {
        Dictionary(grouping: fields, by: { $0.field }).mapValues { problems in
            problems.map { $0.message(localizer: localizer) }.joined(separator: "\n")
        }
    }
}
