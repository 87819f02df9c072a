// Shared pieces of the screens: the app's strings in the chosen language (whatever the phone's),
// notices, field problems and single-choice rows.
import SwiftUI
import TiplineAppModel

/// The app's Localizable.strings in one language, looked up at run time so that the language
/// switch takes effect at once.
struct Strings {
    let bundle: Bundle

    init(code: String) {
        bundle = Bundle.main.path(forResource: code, ofType: "lproj").flatMap { Bundle(path: $0) } ?? .main
    }

    func callAsFunction(_ key: String) -> String {
        bundle.localizedString(forKey: key, value: nil, table: nil)
    }

    func format(_ key: String, _ argument: String) -> String {
        String(format: self(key), argument)
    }
}

private struct StringsKey: EnvironmentKey {
    static let defaultValue = Strings(code: "en")
}

extension EnvironmentValues {
    var strings: Strings {
        get { self[StringsKey.self] }
        set { self[StringsKey.self] = newValue }
    }
}

/// A notice's words: the core's sentence, or the app's string for its message.
struct NoticeView: View {
    let notice: Notice?
    @Environment(\.strings) private var t

    var body: some View {
        if let notice {
            Text(words(notice))
                .foregroundColor(.red)
                .frame(maxWidth: .infinity, alignment: .leading)
        }
    }

    private func words(_ notice: Notice) -> String {
        switch notice {
        case .text(let text):
            return text
        case .app(let message):
            return t(message.rawValue)
        }
    }
}

/// The core's sentence about a field, under the field.
struct FieldProblemView: View {
    let problem: String?

    var body: some View {
        if let problem {
            Text(problem).font(.footnote).foregroundColor(.red)
        }
    }
}

/// One option of a single choice.
struct ChoiceRow: View {
    let selected: Bool
    let label: String
    let action: () -> Void

    var body: some View {
        Button(action: action) {
            HStack {
                Image(systemName: selected ? "largecircle.fill.circle" : "circle")
                Text(label).foregroundColor(.primary)
                Spacer()
            }
        }
        .accessibilityAddTraits(selected ? .isSelected : [])
    }
}

/// The top bar every screen has: settings, and quick exit in red.
struct TiplineToolbar: ViewModifier {
    let onQuickExit: () -> Void
    let onSettings: () -> Void
    @Environment(\.strings) private var t

    func body(content: Content) -> some View {
        content.toolbar {
            ToolbarItem(placement: .navigationBarLeading) {
                Button(action: onSettings) { Image(systemName: "gearshape") }
                    .accessibilityLabel(t("settings_title"))
            }
            ToolbarItem(placement: .navigationBarTrailing) {
                Button(t("quick_exit"), action: onQuickExit)
                    .buttonStyle(.borderedProminent)
                    .tint(.red)
            }
        }
    }
}
