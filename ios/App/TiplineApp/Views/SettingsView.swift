// The language switch (es, en, ar right to left, da) and the reporter's region.
import SwiftUI
import TiplineAppModel

struct SettingsView: View {
    @ObservedObject var model: AppModel
    @ObservedObject var settings: SettingsModel
    @Environment(\.strings) private var t
    @Environment(\.dismiss) private var dismiss

    var body: some View {
        List {
            Section(t("settings_language")) {
                ForEach(settings.languages) { option in
                    ChoiceRow(selected: settings.language == option.language, label: option.name) {
                        Task { await model.selectLanguage(option.language) }
                    }
                }
            }
            Section(t("settings_region")) {
                NoticeView(notice: model.directoryNotice)
                ForEach(settings.regions) { option in
                    ChoiceRow(selected: settings.region == option.code, label: option.label) {
                        Task { await model.selectRegion(option.code) }
                    }
                }
            }
            Section {
                Text(t("settings_quick_exit_note")).font(.footnote)
            }
        }
        .navigationTitle(t("settings_title"))
        .toolbar {
            Button(t("action_ok")) { dismiss() }
        }
    }
}
