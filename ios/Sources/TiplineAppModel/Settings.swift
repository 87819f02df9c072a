// The language switch (with the layout direction the core gives each language), the region, and
// the update notification (on or off, and the reporter's own wording): the Swift twin of
// android/viewmodel/.../Settings.kt.
import Foundation
import TiplineFFI

/// Small key-value storage for the reporter's choices (UserDefaults in the app).
public protocol Preferences: AnyObject {
    func string(forKey key: String) -> String?
    func set(_ value: String?, forKey key: String)
}

public struct LanguageOption: Identifiable, Equatable {
    public let language: Language
    public let code: String
    /// The language's name in itself.
    public let name: String
    public var id: String { code }
}

public struct RegionOption: Identifiable, Equatable {
    public let code: String
    public let label: String
    public var id: String { code }
}

@MainActor
public final class SettingsModel: ObservableObject {
    @Published public private(set) var language: Language
    @Published public private(set) var region: String?
    @Published public private(set) var regions: [RegionOption] = []
    /// Whether a background check that finds news may post a notification (on by default).
    @Published public private(set) var updateNotifications: Bool
    /// The reporter's own words for that notification; nil for the neutral "You have an update".
    @Published public private(set) var notificationWording: String?
    /// The longest wording the reporter can give the notification.
    public static let maxWording = 60
    public let languages: [LanguageOption]
    private let preferences: Preferences
    private var texts: [Language: CoreText] = [:]
    private var directory: DirectoryInfo?

    public init(preferences: Preferences, deviceLanguages: [String], deviceRegion: String?) {
        self.preferences = preferences
        language = preferences.string(forKey: "language").flatMap { languageFromTag(tag: $0) }
            ?? negotiateLanguage(preferred: deviceLanguages)
        region = preferences.string(forKey: "region") ?? deviceRegion?.uppercased()
        updateNotifications = preferences.string(forKey: "update-notifications") != "off"
        notificationWording = preferences.string(forKey: "notification-wording")
        languages = [Language.spanish, .english, .arabic, .danish].map { language in
            let code = language.code()
            let locale = Locale(identifier: code)
            let name = locale.localizedString(forLanguageCode: code)?.capitalized(with: locale) ?? code
            return LanguageOption(language: language, code: code, name: name)
        }
    }

    /// From the core: right to left for Arabic.
    public var direction: Direction { language.direction() }

    public var languageCode: String { language.code() }

    /// The core's strings in the chosen language.
    public var text: CoreText { text(for: language) }

    public func text(for language: Language) -> CoreText {
        if let text = texts[language] { return text }
        let text = CoreText(language: language)
        texts[language] = text
        return text
    }

    public func selectLanguage(_ language: Language) {
        preferences.set(language.code(), forKey: "language")
        self.language = language
        if let directory { directoryChanged(directory) }
    }

    public func selectRegion(_ code: String) {
        preferences.set(code, forKey: "region")
        region = code
    }

    /// Turns the notification after a background check that found news on or off.
    public func setUpdateNotifications(_ on: Bool) {
        preferences.set(on ? nil : "off", forKey: "update-notifications")
        updateNotifications = on
    }

    /// The reporter's own words for the notification (at most `maxWording` characters, on one
    /// line); blank goes back to the neutral wording.
    public func setNotificationWording(_ words: String?) {
        let line = (words ?? "").split(whereSeparator: { $0.isWhitespace || $0.isNewline }).joined(separator: " ")
        let wording = line.isEmpty ? nil : String(line.prefix(Self.maxWording))
        preferences.set(wording, forKey: "notification-wording")
        notificationWording = wording
    }

    /// The regions on offer are the ones the directory's units serve.
    public func directoryChanged(_ directory: DirectoryInfo) {
        self.directory = directory
        let text = self.text
        regions = Array(Set(directory.units.flatMap { $0.regions })).sorted().map { code in
            let units = directory.units.filter { $0.regions.contains(code) }.map { text.label($0.names) }
            return RegionOption(code: code, label: code + " – " + units.joined(separator: " · "))
        }
    }
}
