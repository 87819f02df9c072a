// The cases on this phone, and recovering a case from its codename.
import SwiftUI
import TiplineAppModel

struct CasesView: View {
    @ObservedObject var cases: CasesModel
    @Environment(\.strings) private var t
    /// The case just recovered, to open at once.
    @State private var recovered: String?

    var body: some View {
        List {
            NoticeView(notice: cases.notice)
            Section(t("cases_title")) {
                if cases.cases.isEmpty { Text(t("cases_empty")) }
                ForEach(cases.cases) { row in
                    NavigationLink(value: row.caseId) {
                        VStack(alignment: .leading) {
                            Text(row.unitName.isEmpty ? t("cases_unit_unknown") : row.unitName).font(.headline)
                            Text(row.created).font(.caption)
                        }
                    }
                }
            }
            Section(t("recover_title")) {
                Text(t("recover_explain")).font(.footnote)
                SecureField(t("recover_codename"), text: $cases.codenameInput)
                    .textInputAutocapitalization(.never)
                    .autocorrectionDisabled()
                FieldProblemView(problem: cases.codenameProblem)
                Button(t("recover_action")) {
                    Task {
                        recovered = await cases.recover()
                    }
                }
                .disabled(cases.recovering || cases.codenameInput.isEmpty)
            }
        }
        .navigationTitle(t("tab_cases"))
        .navigationDestination(for: String.self) { caseId in
            ConversationView(cases: cases, caseId: caseId)
        }
        .navigationDestination(isPresented: Binding(get: { recovered != nil }, set: { if !$0 { recovered = nil } })) {
            ConversationView(cases: cases, caseId: recovered ?? "")
        }
        .task { await cases.refreshCases() }
    }
}
