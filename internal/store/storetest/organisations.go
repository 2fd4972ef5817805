package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/repairx/repairxctl/internal/store"
)

var organisationCases = []testCase{
	{"CreateAndRead", testOrganisationCreateAndRead},
	{"CreateConflict", testOrganisationCreateConflict},
	{"CreateInvalid", testOrganisationCreateInvalid},
	{"NotFound", testOrganisationNotFound},
	{"ListSortedByName", testOrganisationList},
	{"Ensure", testOrganisationEnsure},
	{"EnsureConcurrent", testOrganisationEnsureConcurrent},
}

func testOrganisationCreateAndRead(t *testing.T, s store.Store) {
	ctx := t.Context()
	got, err := s.CreateOrganisation(ctx, store.Organisation{Name: "  Acme Repairs \t", CreatedAt: t0})
	must(t, "CreateOrganisation", err)
	if got.ID == "" {
		t.Error("CreateOrganisation left the id empty; want a generated one")
	}
	if got.Name != "Acme Repairs" {
		t.Errorf("Name = %q, want it trimmed to %q", got.Name, "Acme Repairs")
	}
	checkTime(t, "CreatedAt", got.CreatedAt, t0)

	byID, err := s.OrganisationByID(ctx, got.ID)
	must(t, "OrganisationByID", err)
	byName, err := s.OrganisationByName(ctx, " Acme Repairs ")
	must(t, "OrganisationByName (untrimmed)", err)
	for what, o := range map[string]store.Organisation{"OrganisationByID": byID, "OrganisationByName": byName} {
		if o.ID != got.ID || o.Name != got.Name {
			t.Errorf("%s = %+v, want %+v", what, o, got)
		}
		checkTime(t, what+" CreatedAt", o.CreatedAt, t0)
	}

	// A caller's id is kept; another generated id differs.
	mine, err := s.CreateOrganisation(ctx, store.Organisation{ID: "org-fixed", Name: "Fixed", CreatedAt: t0})
	must(t, "CreateOrganisation with id", err)
	if mine.ID != "org-fixed" {
		t.Errorf("ID = %q, want the caller's org-fixed", mine.ID)
	}
	other := mustOrg(t, s, "Other")
	if other.ID == got.ID {
		t.Errorf("two generated ids are both %q", got.ID)
	}
}

func testOrganisationCreateConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	o := mustOrg(t, s, "Acme")
	_, err := s.CreateOrganisation(ctx, store.Organisation{Name: " Acme ", CreatedAt: t0})
	wantErr(t, "CreateOrganisation with a taken name", err, store.ErrConflict)
	_, err = s.CreateOrganisation(ctx, store.Organisation{ID: o.ID, Name: "Another", CreatedAt: t0})
	wantErr(t, "CreateOrganisation with a taken id", err, store.ErrConflict)

	orgs, err := s.ListOrganisations(ctx)
	must(t, "ListOrganisations", err)
	if len(orgs) != 1 {
		t.Errorf("ListOrganisations after the conflicts = %+v, want only Acme", orgs)
	}
}

func testOrganisationCreateInvalid(t *testing.T, s store.Store) {
	for _, o := range []store.Organisation{
		{Name: "", CreatedAt: t0},
		{Name: " \t ", CreatedAt: t0},
		{Name: "No Time"},
	} {
		_, err := s.CreateOrganisation(t.Context(), o)
		wantErr(t, "CreateOrganisation "+describe(o), err, store.ErrInvalid)
	}
	orgs, err := s.ListOrganisations(t.Context())
	must(t, "ListOrganisations", err)
	if len(orgs) != 0 {
		t.Errorf("invalid organisations were stored: %+v", orgs)
	}
}

func testOrganisationNotFound(t *testing.T, s store.Store) {
	mustOrg(t, s, "Acme")
	_, err := s.OrganisationByID(t.Context(), store.NewID())
	wantErr(t, "OrganisationByID unknown", err, store.ErrNotFound)
	_, err = s.OrganisationByName(t.Context(), "Acme Two")
	wantErr(t, "OrganisationByName unknown", err, store.ErrNotFound)
}

func testOrganisationList(t *testing.T, s store.Store) {
	orgs, err := s.ListOrganisations(t.Context())
	must(t, "ListOrganisations on an empty store", err)
	if len(orgs) != 0 {
		t.Fatalf("ListOrganisations on an empty store = %+v", orgs)
	}
	// Byte order, whatever the database's collation: upper case before
	// lower case, punctuation by its code.
	names := []string{"beta", "Zulu", "alpha", "Alpha", "a-team", "a team"}
	for _, n := range names {
		mustOrg(t, s, n)
	}
	orgs, err = s.ListOrganisations(t.Context())
	must(t, "ListOrganisations", err)
	var got []string
	for _, o := range orgs {
		got = append(got, o.Name)
		checkTime(t, o.Name+" CreatedAt", o.CreatedAt, t0)
	}
	want := slices.Sorted(slices.Values(names))
	if !slices.Equal(got, want) {
		t.Errorf("ListOrganisations names = %q, want %q", got, want)
	}
}

func testOrganisationEnsure(t *testing.T, s store.Store) {
	ctx := t.Context()
	created, err := s.EnsureOrganisation(ctx, "  Beta Fix ", t0)
	must(t, "EnsureOrganisation (new)", err)
	if created.ID == "" || created.Name != "Beta Fix" {
		t.Errorf("EnsureOrganisation = %+v, want a generated id and the trimmed name", created)
	}
	checkTime(t, "CreatedAt", created.CreatedAt, t0)

	again, err := s.EnsureOrganisation(ctx, "Beta Fix", at(time.Hour))
	must(t, "EnsureOrganisation (existing)", err)
	if again.ID != created.ID {
		t.Errorf("EnsureOrganisation of an existing name gave id %q, want %q", again.ID, created.ID)
	}
	checkTime(t, "CreatedAt of the existing organisation", again.CreatedAt, t0)

	// One made by CreateOrganisation is found too.
	made := mustOrg(t, s, "Gamma")
	found, err := s.EnsureOrganisation(ctx, "Gamma", at(time.Hour))
	must(t, "EnsureOrganisation (created before)", err)
	if found.ID != made.ID {
		t.Errorf("EnsureOrganisation(Gamma) id %q, want %q", found.ID, made.ID)
	}

	orgs, err := s.ListOrganisations(ctx)
	must(t, "ListOrganisations", err)
	if len(orgs) != 2 {
		t.Errorf("ListOrganisations = %+v, want Beta Fix and Gamma", orgs)
	}

	_, err = s.EnsureOrganisation(ctx, " ", t0)
	wantErr(t, "EnsureOrganisation with an empty name", err, store.ErrInvalid)
	_, err = s.EnsureOrganisation(ctx, "Zero Time", time.Time{})
	wantErr(t, "EnsureOrganisation at the zero time", err, store.ErrInvalid)
}

func testOrganisationEnsureConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	ids := make([]string, raceN)
	errs := make([]error, raceN)
	race(raceN, func(i int) {
		o, err := s.EnsureOrganisation(ctx, "Racing Repairs", at(time.Duration(i)*time.Second))
		ids[i], errs[i] = o.ID, err
	})
	for i, err := range errs {
		must(t, "concurrent EnsureOrganisation", err)
		if ids[i] == "" || ids[i] != ids[0] {
			t.Errorf("EnsureOrganisation call %d returned id %q, call 0 %q: want one organisation", i, ids[i], ids[0])
		}
	}
	orgs, err := s.ListOrganisations(ctx)
	must(t, "ListOrganisations", err)
	if len(orgs) != 1 || orgs[0].ID != ids[0] {
		t.Errorf("ListOrganisations = %+v, want the one organisation %s", orgs, ids[0])
	}
}
