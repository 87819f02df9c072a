// The language switch (with the layout direction the core gives each language) and the region.
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
    public let languages: [LanguageOption]
    private let preferences: Preferences
    private var texts: [Language: CoreText] = [:]
    private var directory: DirectoryInfo?

    public init(preferences: Preferences, deviceLanguages: [String], deviceRegion: String?) {
        self.preferences = preferences
        language = preferences.string(forKey: "language").flatMap { languageFromTag(tag: $0) }
            ?? negotiateLanguage(preferred: deviceLanguages)
        region = preferences.string(forKey: "region") ?? deviceRegion?.uppercased()
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
