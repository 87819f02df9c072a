// A case's conversation: the unit's replies (checked and opened by the core) and follow-ups.
import SwiftUI
import TiplineAppModel

struct ConversationView: View {
    @ObservedObject var cases: CasesModel
    let caseId: String
    @Environment(\.strings) private var t

    var body: some View {
        VStack(spacing: 0) {
            List {
                NoticeView(notice: cases.conversationNotice)
                if cases.loading { ProgressView() }
                if cases.messages.isEmpty && !cases.loading { Text(t("conversation_empty")) }
                ForEach(cases.messages) { message in
                    // The unit's messages on the leading side, the reporter's on the trailing side.
                    HStack {
                        if !message.fromUnit { Spacer() }
                        VStack(alignment: .leading, spacing: 4) {
                            Text(message.fromUnit ? message.unitName : t("conversation_you")).font(.caption).bold()
                            Text(message.text ?? t("conversation_sent_elsewhere"))
                            if let sentAt = message.sentAt { Text(sentAt).font(.caption2) }
                        }
                        .padding(10)
                        .background(message.fromUnit ? Color(.secondarySystemBackground) : Color.accentColor.opacity(0.15))
                        .cornerRadius(10)
                        if message.fromUnit { Spacer() }
                    }
                }
            }
            HStack {
                TextField(t("conversation_follow_up"), text: $cases.followUp, axis: .vertical)
                    .textFieldStyle(.roundedBorder)
                Button {
                    Task { await cases.sendFollowUp() }
                } label: {
                    Image(systemName: "paperplane.fill")
                }
                .accessibilityLabel(t("conversation_send"))
                .disabled(cases.sending || cases.followUp.trimmingCharacters(in: .whitespaces).isEmpty)
            }
            .padding()
        }
        .navigationTitle(cases.unitName)
        .toolbar {
            Button { Task { await cases.reload() } } label: { Image(systemName: "arrow.clockwise") }
                .accessibilityLabel(t("action_refresh"))
        }
        .task { if cases.openCaseId != caseId { await cases.openCase(caseId) } }
        .onDisappear { cases.closeCase() }
    }
}
