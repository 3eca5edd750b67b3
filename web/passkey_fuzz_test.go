package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"parley/internal/testkit"
	"parley/room"
)

// FuzzPasskeySignInAnswer posts arbitrary authenticator answers to a
// passkey sign-in: whatever the bytes, the server answers with a refusal
// (nothing can sign in without the private key), never a panic or a
// session. The seeds are a real answer signed by a key the server does not
// know, and malformed ones.
func FuzzPasskeySignInAnswer(f *testing.F) {
	hub, err := room.New(room.Config{})
	if err != nil {
		f.Fatal(err)
	}
	ids := &idents{ids: map[string]room.Identity{aliceID: {ID: aliceID, Name: "alice"}}, refused: map[string]string{}}
	s, err := New(Config{Hub: hub, Identities: ids, PublicURL: "http://localhost:8080"})
	if err != nil {
		f.Fatal(err)
	}
	// A passkey of alice's that the server knows.
	auth := &testkit.Authenticator{Origin: "http://localhost:8080", RPID: "localhost"}
	known, _, err := auth.Create("AAAA", "U0hBMjU2OmFsaWNl")
	if err != nil {
		f.Fatal(err)
	}
	rec, _ := json.Marshal(map[string]any{"id": known.ID})
	if err := s.cfg.Credentials.AddPasskey(f.Context(), aliceID, known.ID, rec, s.cfg.Now()); err != nil {
		f.Fatal(err)
	}
	_, sess, err := s.webauthn.BeginDiscoverableLogin()
	if err != nil {
		f.Fatal(err)
	}
	good, _ := auth.Get(sess.Challenge, known, 1)
	f.Add([]byte(good))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"","signature":"","userHandle":"U0hBMjU2OmFsaWNl"}}`))
	f.Fuzz(func(t *testing.T, answer []byte) {
		tok, err := s.beginCeremony(&ceremony{kind: "signin", session: *sess})
		if err != nil {
			t.Fatal(err)
		}
		defer s.takeCeremony(tok, "signin") // one waiting at most, whatever the answer did
		body, err := json.Marshal(map[string]any{"ceremony": tok, "credential": json.RawMessage(answer)})
		if err != nil {
			return // not JSON: the page cannot send it as the credential
		}
		req := httptest.NewRequest(http.MethodPost, "/api/passkey/signin/finish", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", "http://localhost:8080")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code == http.StatusOK || len(w.Result().Cookies()) > 0 {
			t.Fatalf("an answer the server cannot have checked signed in: %d %s", w.Code, w.Body)
		}
	})
}
