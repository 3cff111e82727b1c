Feature: Who acts on a step: claims, reassignment and substitutes
  A step offered to a group is claimed by one of its members, who may give it back; an admin gives a
  step to someone. A user names a substitute while away: the substitute sees and decides the user's
  steps, recorded as theirs on behalf of the user. Separation of duties holds for both of them.

  Background:
    Given the demo users

  Scenario: A manager claims a step, so the other managers no longer see it, and gives it back
    Given alice has submitted a purchase request of 5000 from "ACME"
    When bob claims "Manager Approval"
    Then the request succeeds
    And the step "Manager Approval" is assigned to bob
    And dave has no task for the ticket
    When dave claims "Manager Approval"
    Then the request is refused with 409
    When bob gives "Manager Approval" back
    Then dave has a task "Manager Approval" for the ticket

  Scenario: An admin reassigns a step, but not to whom separation of duties refuses it
    Given alice has submitted a purchase request of 5000 from "ACME"
    When carol reassigns "Manager Approval" to alice
    Then the request is refused with 422 naming assignee
    When carol reassigns "Manager Approval" to dave
    Then the request succeeds
    And the step "Manager Approval" is assigned to dave
    And bob has no task for the ticket
    When dave approves the ticket
    Then the ticket is in_progress at "Finance Approval"

  Scenario: A substitute decides on behalf of a manager who is away
    Given alice has submitted a purchase request of 5000 from "ACME"
    And bob has named erin his substitute for the next 2 days
    Then erin has a task "Manager Approval" for the ticket on behalf of bob
    When erin approves the ticket with the comment "For Bob, who is away"
    Then the ticket is in_progress at "Finance Approval"
    And the step "Manager Approval" was completed by erin on behalf of bob

  Scenario: Separation of duties holds for the substitute and for whom they stand in for
    Given alice has submitted a purchase request of 5000 from "ACME"
    And bob has named alice his substitute for the next 2 days
    Then alice has no task for the ticket
    When alice approves the ticket
    Then the request is refused with 403 because own_ticket

  Scenario: A substitute cannot be oneself, and the period must end after it starts
    When bob names bob his substitute for the next 2 days
    Then the request is refused with 422 naming substitute
    When bob names erin his substitute ending before it starts
    Then the request is refused with 422 naming ends
