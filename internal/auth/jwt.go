package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	// DefaultIssuer is the iss claim when TokenConfig.Issuer is empty.
	DefaultIssuer = "repairxctl"
	// DefaultAudience is the aud claim when TokenConfig.Audience is empty.
	DefaultAudience = "repairx-api"
	// DefaultAccessTTL is the access-token lifetime when
	// TokenConfig.AccessTTL is zero.
	DefaultAccessTTL = 15 * time.Minute
	// MaxTokenBytes is the longest token ParseAccess looks at; ours are
	// about 400 bytes.
	MaxTokenBytes = 4096
)

var (
	// ErrInvalidToken is wrapped by every failure to accept a token; answer
	// it with 401 and no detail.
	ErrInvalidToken = errors.New("invalid token")
	// ErrTokenExpired is returned for a token that is ours and well-formed
	// but past its expiry (plus leeway), so a client can be told to refresh.
	// It wraps ErrInvalidToken.
	ErrTokenExpired = fmt.Errorf("%w: expired", ErrInvalidToken)
)

// AccessClaims are what an access token says about its bearer.
type AccessClaims struct {
	UserID string // sub
	Role   string // role
	OrgID  string // org
	// SessionID is the refresh-token family the token was issued under
	// (sid), so logging out a session can be matched to its access tokens.
	SessionID string
	// MFA reports that a second factor was presented at login (mfa).
	MFA       bool
	ExpiresAt time.Time // exp
	IssuedAt  time.Time // iat, also nbf
	ID        string    // jti
}

// TokenConfig configures access tokens. Zero fields take the defaults
// DefaultIssuer, DefaultAudience and DefaultAccessTTL; a zero Leeway
// allows no clock skew between nodes.
type TokenConfig struct {
	Issuer    string
	Audience  string
	AccessTTL time.Duration
	// Leeway is the clock skew tolerated on exp, nbf and iat.
	Leeway time.Duration
}

// Tokens issues and checks access tokens: JWTs signed with HMAC-SHA256
// under the current signing key of a KeySource, carrying that key's id in
// the kid header. It is safe for concurrent use.
type Tokens struct {
	src KeySource
	cfg TokenConfig
}

// NewTokens returns Tokens signing with src's keys. src is asked for its
// keys on every call, so it may change them at run time.
func NewTokens(src KeySource, cfg TokenConfig) *Tokens {
	if cfg.Issuer == "" {
		cfg.Issuer = DefaultIssuer
	}
	if cfg.Audience == "" {
		cfg.Audience = DefaultAudience
	}
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = DefaultAccessTTL
	}
	if cfg.Leeway < 0 {
		cfg.Leeway = 0
	}
	return &Tokens{src: src, cfg: cfg}
}

// Config returns the configuration in force, defaults filled in.
func (t *Tokens) Config() TokenConfig { return t.cfg }

// jwtClaims is the token's payload.
type jwtClaims struct {
	Role      string `json:"role,omitempty"`
	OrgID     string `json:"org,omitempty"`
	SessionID string `json:"sid,omitempty"`
	MFA       bool   `json:"mfa"`
	jwt.RegisteredClaims
}

// IssueAccess signs an access token for c issued at now. It sets iat and
// nbf to now and exp to now plus the AccessTTL, or to c.ExpiresAt when that
// is earlier (to end with the session); times are whole seconds, as JWT
// carries them. An empty c.ID gets a random one. The returned expires is
// the token's exp.
func (t *Tokens) IssueAccess(c AccessClaims, now time.Time) (token string, expires time.Time, err error) {
	if c.UserID == "" {
		return "", time.Time{}, errors.New("issuing access token: empty user id")
	}
	key, err := t.signingKey()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issuing access token: %w", err)
	}
	iat := now.UTC().Truncate(time.Second)
	exp := iat.Add(t.cfg.AccessTTL)
	if !c.ExpiresAt.IsZero() && c.ExpiresAt.Before(exp) {
		exp = c.ExpiresAt.UTC().Truncate(time.Second)
		if !exp.After(iat) {
			return "", time.Time{}, errors.New("issuing access token: requested expiry is not after now")
		}
	}
	if c.ID == "" {
		c.ID = rand.Text()
	}
	claims := jwtClaims{
		Role:      c.Role,
		OrgID:     c.OrgID,
		SessionID: c.SessionID,
		MFA:       c.MFA,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.cfg.Issuer,
			Subject:   c.UserID,
			Audience:  jwt.ClaimStrings{t.cfg.Audience},
			ExpiresAt: jwt.NewNumericDate(exp),
			NotBefore: jwt.NewNumericDate(iat),
			IssuedAt:  jwt.NewNumericDate(iat),
			ID:        c.ID,
		},
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["kid"] = key.ID
	signed, err := tok.SignedString(key.Secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issuing access token: %w", err)
	}
	return signed, exp, nil
}

func (t *Tokens) signingKey() (Key, error) {
	keys := t.src.Keys()
	if keys == nil {
		return Key{}, errors.New("no keys loaded")
	}
	k := keys.Signing.Current
	if k.ID == "" || len(k.Secret) != KeySize {
		return Key{}, errors.New("no usable signing key")
	}
	return k, nil
}

// ParseAccess checks token at now and returns its claims. It accepts only
// tokens this package issued: HS256 (every other alg, "none" included, is
// refused), a kid naming a current or previous signing key, a valid
// signature, exp present and not passed, nbf and iat not in the future,
// and the configured issuer and audience, with Leeway on the times. Every
// failure wraps ErrInvalidToken; an expired token is ErrTokenExpired. A
// token longer than MaxTokenBytes is refused unread.
func (t *Tokens) ParseAccess(token string, now time.Time) (AccessClaims, error) {
	if len(token) > MaxTokenBytes {
		return AccessClaims{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalidToken, MaxTokenBytes)
	}
	keys := t.src.Keys()
	if keys == nil {
		return AccessClaims{}, fmt.Errorf("%w: no keys loaded", ErrInvalidToken)
	}
	signing := keys.Signing
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(t.cfg.Issuer),
		jwt.WithAudience(t.cfg.Audience),
		jwt.WithLeeway(t.cfg.Leeway),
		jwt.WithTimeFunc(func() time.Time { return now }),
		// Strict base64 leaves one encoding per signature, so no string
		// other than the one we issued verifies.
		jwt.WithStrictDecoding(),
	)
	var claims jwtClaims
	_, err := p.ParseWithClaims(token, &claims, func(tok *jwt.Token) (any, error) {
		if tok.Method != jwt.SigningMethodHS256 {
			return nil, errors.New("unexpected signing method")
		}
		kid, ok := tok.Header["kid"].(string)
		if !ok || kid == "" {
			return nil, errors.New("no key id")
		}
		k, ok := signing.Lookup(kid)
		if !ok || len(k.Secret) != KeySize {
			// The kid is the client's string: not repeated in the error.
			return nil, errors.New("unknown key id")
		}
		return k.Secret, nil
	})
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return AccessClaims{}, ErrTokenExpired
		}
		return AccessClaims{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	// Only we sign, and we always set these; their absence means a bug or a
	// leaked key, and either way the token is not trusted.
	if claims.Subject == "" || claims.ID == "" || claims.IssuedAt == nil {
		return AccessClaims{}, fmt.Errorf("%w: sub, jti or iat missing", ErrInvalidToken)
	}
	return AccessClaims{
		UserID:    claims.Subject,
		Role:      claims.Role,
		OrgID:     claims.OrgID,
		SessionID: claims.SessionID,
		MFA:       claims.MFA,
		ExpiresAt: claims.ExpiresAt.UTC(),
		IssuedAt:  claims.IssuedAt.UTC(),
		ID:        claims.ID,
	}, nil
}
