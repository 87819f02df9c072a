// The reporter's choices (language, region) in UserDefaults.
import Foundation
import TiplineAppModel

final class UserDefaultsPreferences: Preferences {
    private let defaults = UserDefaults.standard

    func string(forKey key: String) -> String? {
        defaults.string(forKey: "tipline." + key)
    }

    func set(_ value: String?, forKey key: String) {
        defaults.set(value, forKey: "tipline." + key)
    }
}
