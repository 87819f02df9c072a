// The language switch (es, en, ar right to left, da), the reporter's region, the update
// notification (on or off, and its words), and the relay choice (Oblivious HTTP, on by default).
import SwiftUI
import TiplineAppModel

struct SettingsView: View {
    @ObservedObject var model: AppModel
    @ObservedObject var settings: SettingsModel
    @Environment(\.strings) private var t
    @Environment(\.dismiss) private var dismiss
    @State private var wording = ""

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
            Section(t("settings_notifications")) {
                Toggle(t("settings_notifications_on"), isOn: Binding(
                    get: { settings.updateNotifications },
                    set: { on in
                        settings.setUpdateNotifications(on)
                        if on { UpdateNotifier.shared.requestAuthorization() }
                    }
                ))
                if settings.updateNotifications {
                    TextField(t("message_update"), text: $wording)
                        .accessibilityLabel(t("settings_notification_wording"))
                        .onChange(of: wording) { words in
                            if words.count > SettingsModel.maxWording { wording = String(words.prefix(SettingsModel.maxWording)) }
                            settings.setNotificationWording(wording)
                        }
                    Text(t("settings_notification_wording_note")).font(.footnote)
                }
            }
            Section(t("settings_relay")) {
                Toggle(t("settings_relay_on"), isOn: Binding(
                    get: { model.relay.enabled },
                    set: { on in Task { try? await model.setUseRelay(on) } }
                ))
                Text(t(model.relay.active ? "settings_relay_active"
                       : model.relay.enabled ? "settings_relay_none" : "settings_relay_off"))
                    .font(.footnote)
            }
            Section {
                Text(t("settings_quick_exit_note")).font(.footnote)
            }
        }
        .onAppear { wording = settings.notificationWording ?? "" }
        .navigationTitle(t("settings_title"))
        .toolbar {
            Button(t("action_ok")) { dismiss() }
        }
    }
}
